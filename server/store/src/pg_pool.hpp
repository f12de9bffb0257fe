// A small pool of PostgreSQL connections for calls that come from any thread (the HTTP threads'
// cancels and listings of the cluster), so they never wait for the cluster thread's connection
// or open one per call. Connections are opened when first needed, up to the pool's size; a caller
// beyond that waits for one to come back. A broken connection stays in the pool and is
// reconnected by its next user.
//
// Threads: every call is thread-safe; a Lease is used by the thread that took it.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pg_conn.hpp"

namespace uasyncd::server::pg {

class Pool {
 public:
  Pool(std::string url, std::size_t size) : url_(std::move(url)), size_(size) {}

  // A connection taken from the pool until the lease ends.
  class Lease {
   public:
    Lease(Pool& pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    ~Lease() { pool_.give_back(std::move(conn_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Connection& operator*() const { return *conn_; }
    Connection* operator->() const { return conn_.get(); }

   private:
    Pool& pool_;
    std::unique_ptr<Connection> conn_;
  };

  // A usable connection (reconnected if it broke since its last use); waits while all are
  // taken. Throws StoreError when the database cannot be reached.
  Lease take();
  // Runs `use` on a connection of the pool; once more on a new session if the connection turns
  // out broken (an idle connection learns it was cut only when used), so `use` must be safe to
  // repeat. Throws StoreError as `use` does, or when the database cannot be reached.
  template <class Use>
  auto with(Use&& use) {
    Lease conn = take();
    try {
      return use(*conn);
    } catch (const StoreError&) {
      if (conn->ok() || !conn->reconnect()) throw;
    }
    return use(*conn);
  }

 private:
  void give_back(std::unique_ptr<Connection> conn);

  const std::string url_;
  const std::size_t size_;
  std::mutex m_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by m_
  std::size_t opened_ = 0;                         // guarded by m_: idle or leased
};

}  // namespace uasyncd::server::pg
