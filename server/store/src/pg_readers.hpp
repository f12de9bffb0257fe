// Connections to PostgreSQL for the HTTP threads: GET of a job by id, lists and idempotency-key
// lookups, each an indexed query. A small pool: a reader takes a free connection for one query
// (or one list: a read-only snapshot, so a page and its counts agree) and gives it back. A broken
// connection is reopened at its next use.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "durable_store.hpp"
#include "pg_conn.hpp"

namespace uasyncd::server {

class PgReaders final : public StoreReaders {
 public:
  // Opens `count` connections to the (migrated) database at `url`; throws StoreError.
  PgReaders(const std::string& url, std::size_t count);
  ~PgReaders() override;
  PgReaders(const PgReaders&) = delete;
  PgReaders& operator=(const PgReaders&) = delete;

  std::optional<JobRow> get(std::uint64_t id) override;
  ListPage list(const ListQuery& query, const StateCounts& counts) override;
  std::optional<std::uint64_t> find_by_key(const std::string& idempotency_key) override;
  void ping() override;
  std::optional<StateCounts> count_states() override;

 private:
  class Lease;
  class Source;
  // Runs `read` on a pooled connection; when it fails because the connection broke (the server
  // restarted, the network was cut), once more on the connection reopened.
  template <class Read>
  auto with_connection(Read&& read);

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pg::Connection>> all_;
  std::vector<pg::Connection*> free_;
};

}  // namespace uasyncd::server
