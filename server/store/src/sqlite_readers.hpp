// Read-only connections to the SQLite file for the HTTP threads: GET of a job by id and lists,
// each an indexed lookup (the file is in WAL mode, so reads never wait for the writer, nor it
// for them). A small pool: a reader takes a free connection for one query and gives it back.
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "durable_store.hpp"
#include "sqlite_db.hpp"

namespace uasyncd::server {

class SqliteReaders final : public StoreReaders {
 public:
  // Opens `count` connections to the (existing, migrated) file at `path`.
  SqliteReaders(const std::string& path, std::size_t count);
  ~SqliteReaders() override;
  SqliteReaders(const SqliteReaders&) = delete;
  SqliteReaders& operator=(const SqliteReaders&) = delete;

  // Any thread. Throw StoreError when the file cannot be read. `counts`: the jobs per state the
  // backend keeps (a list's total by state alone needs no count).
  std::optional<JobRow> get(std::uint64_t id) override;
  ListPage list(const ListQuery& query, const StateCounts& counts) override;
  std::optional<std::uint64_t> find_by_key(const std::string& idempotency_key) override;

 private:
  struct Connection;
  class Lease;
  class Source;

  std::string path_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> all_;
  std::vector<Connection*> free_;
};

}  // namespace uasyncd::server
