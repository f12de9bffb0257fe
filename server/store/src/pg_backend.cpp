// The PostgreSQL backend: the jobs' table in a database (pg_store.cpp), written by the writer
// thread with group commits, read by the HTTP threads through their own connections
// (pg_readers.cpp).
#include <spdlog/spdlog.h>

#include <memory>
#include <utility>

#include "durable_backend.hpp"
#include "pg_readers.hpp"
#include "pg_store.hpp"

namespace uasyncd::server {

std::unique_ptr<JobBackend> open_postgres_backend(const PostgresOptions& postgres,
                                                  BackendOptions options) {
  std::unique_ptr<PgStore> store =
      PgStore::open(postgres.url, postgres.full_sync, postgres.instance);
  if (store->opened_version() == 0) {
    spdlog::info("{}: schema {} created", store->where(), PgStore::kSchemaVersion);
  } else if (store->opened_version() < PgStore::kSchemaVersion) {
    spdlog::info("{}: migrated from schema {} to {}", store->where(), store->opened_version(),
                 PgStore::kSchemaVersion);
  }
  return make_durable_backend(
      std::move(store), [&] { return std::make_unique<PgReaders>(postgres.url, postgres.readers); },
      std::move(options));
}

}  // namespace uasyncd::server
