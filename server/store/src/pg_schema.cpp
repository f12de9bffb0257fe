#include "pg_schema.hpp"

#include <span>
#include <string>

namespace uasyncd::server {
namespace {

struct PgMigration {
  int version;
  const char* sql;
};

// Version 1: the SQLite schema at its version 5, in PostgreSQL's types. Every field that holds
// what a user sent or a program printed is bytea: a JSON string may hold NUL, and an exec's
// messages any bytes, which text (UTF-8, no NUL) would refuse, failing the whole commit.
// name_folded is the name with A-Z folded to a-z, for ?name_contains (the rule of ListQuery).
// Ids stay below 2^63 (bigint).
// Version 2: named settings (periodic schedules, queues), as SQLite's version 6: a JSON body
// each, and a schedule's latest fired occurrence (fired_ms), written in the transaction of that
// occurrence's task; a daemon sharing the database may claim an occurrence with a conditional
// UPDATE of it. The root's queue and priority as columns (filled in for the live rows), indexed
// as a claim query orders pending tasks.
// Version 3: cluster mode. The instances sharing the database (a row each, renewed as a lease),
// and each live task's owner: the instance that holds it in RAM (NULL: nobody; claimable). Live
// rows of a database a single daemon wrote are unowned, so the first instance claims them, as a
// restart recovered them. A cancel asked of a task another instance holds is kept in
// cancel_requested_ms, so the request outlives a lost notification and a dead owner.
// Version 4: each exec step's output in a row of its own, as SQLite's version 7: the output
// column held every ended step's output in one value, written again at each step's end. The old
// values move into uasyncd_task_outputs unchanged as step -1 (kLegacyOutputs), and the column
// goes. The foreign key deletes a task's outputs with it, whichever statement deletes it.
constexpr PgMigration kPgMigrations[] = {
    {1, R"sql(
CREATE TABLE uasyncd_tasks(
  seq bigint PRIMARY KEY,
  spec bytea NOT NULL,
  name bytea NOT NULL,
  name_folded bytea NOT NULL,
  kind text NOT NULL,
  state text NOT NULL,
  attempts bigint NOT NULL,
  created_ms bigint NOT NULL,
  run_at_ms bigint,
  started_ms bigint NOT NULL,
  finished_ms bigint NOT NULL,
  interrupted_ms bigint NOT NULL DEFAULT 0,
  result bytea,
  error_type bytea,
  error_message bytea,
  steps bytea,
  output bytea,
  idempotency_key bytea);
CREATE INDEX uasyncd_tasks_state ON uasyncd_tasks(state, seq);
CREATE INDEX uasyncd_tasks_name ON uasyncd_tasks(name, seq);
CREATE INDEX uasyncd_tasks_finished ON uasyncd_tasks(finished_ms, seq)
  WHERE state NOT IN ('scheduled', 'pending', 'running');
CREATE INDEX uasyncd_tasks_run_at ON uasyncd_tasks(run_at_ms, seq) WHERE state = 'scheduled';
CREATE INDEX uasyncd_tasks_idempotency_key ON uasyncd_tasks(idempotency_key)
  WHERE idempotency_key IS NOT NULL;
INSERT INTO uasyncd_meta(key, value) VALUES ('max_seq', 0) ON CONFLICT (key) DO NOTHING;
)sql"},
    {2, R"sql(
CREATE TABLE uasyncd_settings(
  kind text NOT NULL,
  name bytea NOT NULL,
  body bytea NOT NULL,
  fired_ms bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (kind, name));
ALTER TABLE uasyncd_tasks ADD COLUMN queue text NOT NULL DEFAULT 'default';
ALTER TABLE uasyncd_tasks ADD COLUMN priority bigint NOT NULL DEFAULT 0;
UPDATE uasyncd_tasks SET
  queue = coalesce(convert_from(spec, 'UTF8')::jsonb->>'queue', 'default'),
  priority = coalesce((convert_from(spec, 'UTF8')::jsonb->>'priority')::bigint, 0)
  WHERE state IN ('scheduled', 'pending', 'running');
CREATE INDEX uasyncd_tasks_claim ON uasyncd_tasks(queue, priority DESC, seq)
  WHERE state = 'pending';
)sql"},
    {3, R"sql(
CREATE TABLE uasyncd_instances(
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL,
  started_ms bigint NOT NULL,
  heartbeat_ms bigint NOT NULL,
  expires_at timestamptz NOT NULL,
  running bigint NOT NULL DEFAULT 0,
  watchers bigint NOT NULL DEFAULT 0,
  stopping boolean NOT NULL DEFAULT false);
ALTER TABLE uasyncd_tasks ADD COLUMN owner bigint;
ALTER TABLE uasyncd_tasks ADD COLUMN cancel_requested_ms bigint;
CREATE INDEX uasyncd_tasks_owner ON uasyncd_tasks(owner)
  WHERE state IN ('scheduled', 'pending', 'running');
)sql"},
    {4, R"sql(
CREATE TABLE uasyncd_task_outputs(
  seq bigint NOT NULL REFERENCES uasyncd_tasks(seq) ON DELETE CASCADE,
  step bigint NOT NULL,
  body bytea NOT NULL,
  PRIMARY KEY (seq, step));
INSERT INTO uasyncd_task_outputs(seq, step, body)
  SELECT seq, -1, output FROM uasyncd_tasks WHERE output IS NOT NULL AND output <> '\x90'::bytea;
ALTER TABLE uasyncd_tasks DROP COLUMN output;
)sql"},
};

}  // namespace

int migrate_pg_schema(pg::Connection& conn, int target_version) {
  conn.run("BEGIN", "cannot start the schema check");
  try {
    conn.run("SELECT pg_advisory_xact_lock($1)", pg::Params().int8(kPgMigrationLock),
             "cannot lock the schema");
    conn.run("CREATE TABLE IF NOT EXISTS uasyncd_meta(key text PRIMARY KEY, value bigint NOT NULL)",
             "cannot create the meta table");
    const pg::Result found_row =
        conn.run("SELECT value FROM uasyncd_meta WHERE key = 'schema'", "cannot read the schema");
    const int found = found_row.rows() == 1 ? static_cast<int>(found_row.integer(0, 0)) : 0;
    if (found > target_version) {
      throw StoreError(conn.where() + ": written by a newer uasyncd (schema " +
                       std::to_string(found) + ", this one knows up to " +
                       std::to_string(target_version) + ")");
    }
    for (const PgMigration& m : std::span(kPgMigrations)) {
      if (m.version <= found || m.version > target_version) continue;
      conn.run_script(m.sql, ("cannot migrate to schema " + std::to_string(m.version)).c_str());
    }
    conn.run(
        "INSERT INTO uasyncd_meta(key, value) VALUES ('schema', $1) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        pg::Params().int8(target_version), "cannot record the schema");
    conn.run("COMMIT", "cannot commit the schema");
    return found;
  } catch (...) {
    conn.run_quietly("ROLLBACK");
    throw;
  }
}

}  // namespace uasyncd::server
