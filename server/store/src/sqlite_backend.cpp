// The SQLite backend: one file per daemon (sqlite_file.cpp), written by the writer thread with
// group commits, read by the HTTP threads through their own connections (sqlite_readers.cpp).
#include <spdlog/spdlog.h>

#include <memory>
#include <utility>

#include "durable_backend.hpp"
#include "sqlite_file.hpp"
#include "sqlite_readers.hpp"

namespace uasyncd::server {

std::unique_ptr<JobBackend> open_sqlite_backend(const SqliteOptions& sqlite,
                                                BackendOptions options) {
  std::unique_ptr<SqliteFile> file = SqliteFile::open(sqlite.dir, sqlite.full_sync);
  if (file->opened_version() != 0 && file->opened_version() < SqliteFile::kSchemaVersion) {
    spdlog::info("{}: migrated from schema {} to {}", file->path(), file->opened_version(),
                 SqliteFile::kSchemaVersion);
  }
  const std::string path = file->path();
  const std::size_t readers = sqlite.readers;
  return make_durable_backend(
      std::move(file), [&] { return std::make_unique<SqliteReaders>(path, readers); },
      std::move(options));
}

}  // namespace uasyncd::server
