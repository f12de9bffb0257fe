// The schema of uasyncd.db and the migrations that bring an older file up to it, in place.
//
// meta('schema') holds the version a file is at. A migration is a list of statements run in one
// transaction with the version bump, so a file is always at one version or the next, never in
// between. To change the schema, add the next migration (never edit a released one).
//
// Room kept for what comes next (not added until used): a queue name, a priority and a run_at
// (scheduled time) column for the claim to order by; an owner and a lease for several daemons.
#pragma once

#include <sqlite3.h>

#include <string>

namespace uasyncd::server {

// Brings the file from the version it is at up to `kSchemaVersion` (creating it when new).
// Returns the version it was at (0: new). Throws StoreError naming `path` if the file was written
// by a newer uasyncd. Called with no transaction open.
int migrate_schema(sqlite3* db, const std::string& path, int target_version);

}  // namespace uasyncd::server
