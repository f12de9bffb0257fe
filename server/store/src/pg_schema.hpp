// The PostgreSQL schema and its versioned migrations (uasyncd_meta 'schema').
#pragma once

#include "pg_conn.hpp"

namespace uasyncd::server {

// Creates or migrates the tables to `target_version` in one transaction, under an advisory
// transaction lock, so daemons starting together migrate once. Returns the version found (0:
// none). Throws StoreError when the database holds a newer schema than `target_version`.
int migrate_pg_schema(pg::Connection& conn, int target_version);

// The advisory lock key migrations take.
inline constexpr std::int64_t kPgMigrationLock = 0x7561'7379'6e63'6402;

}  // namespace uasyncd::server
