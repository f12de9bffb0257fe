#include "sqlite_schema.hpp"

#include <span>

#include "sqlite_db.hpp"

namespace uasyncd::server {
namespace {

struct SqliteMigration {
  int version;
  const char* sql;
};

// Version 1: one row per job, keyed by its id (seq).
// Version 2: the root's name and kind as columns, so a list needs no spec; indexes for lists by
// state and by name (newest first) and for retention (longest finished first, finished only).
// Version 3: the Idempotency-Key of the submit that made a job, indexed. Not a UNIQUE index: the
// bridge keeps keys unique, and the insert is an INSERT OR REPLACE that would delete the other row.
// Version 4: when a restart found a job running and interrupted it (0: never). (The heartbeat the
// writer keeps while jobs run, meta('alive_ms'), needs no migration: meta has any key.)
// Version 5: scheduled tasks (a "delay" or "at"): run_at_ms, the wall-clock time a task may start
// (NULL: not delayed), indexed for the scheduled ones in the order they become due (a claim query
// of a shared database orders by it); the finished index no longer counts them as finished.
// Version 6: named settings beside the tasks (periodic schedules, queues): a JSON body each, and
// for a schedule the latest occurrence it fired (fired_ms), written in the same transaction as
// that occurrence's task. The root's queue and priority as columns (filled in for the live rows
// from their specs), indexed as a claim query orders pending tasks: by queue, highest priority,
// then oldest.
// Version 7: each exec step's output in a row of its own (task_outputs, keyed by the task and the
// step's index), written once when the step ends: the tasks' output column held every ended
// step's output in one blob, written again at each step's end (a task of 40 steps printing 2 MiB
// each wrote 1,115 MiB for 80 MiB of output). The old blobs move into the new table unchanged,
// as step -1 (kLegacyOutputs: several steps' outputs in one body), and the column goes. A
// trigger deletes a task's outputs with it, whichever statement deletes it (a DELETE, retention).
constexpr SqliteMigration kSqliteMigrations[] = {
    {1, R"sql(
CREATE TABLE tasks(
  seq INTEGER PRIMARY KEY,
  spec TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL DEFAULT 0,
  started_ms INTEGER NOT NULL DEFAULT 0,
  finished_ms INTEGER NOT NULL DEFAULT 0,
  result TEXT,
  error_type TEXT,
  error_message TEXT,
  steps TEXT,
  output TEXT);
INSERT OR IGNORE INTO meta(key, value) VALUES ('max_seq', '0');
)sql"},
    {2, R"sql(
ALTER TABLE tasks ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN kind TEXT NOT NULL DEFAULT '';
UPDATE tasks SET
  name = CASE WHEN json_valid(spec) THEN coalesce(json_extract(spec, '$.name'), '') ELSE '' END,
  kind = CASE WHEN NOT json_valid(spec) THEN ''
              WHEN json_type(spec, '$.sleep') IS NOT NULL THEN 'sleep'
              WHEN json_type(spec, '$.sleep_ms') IS NOT NULL THEN 'sleep_ms'
              WHEN json_type(spec, '$.value') IS NOT NULL THEN 'value'
              WHEN json_type(spec, '$.fail') IS NOT NULL THEN 'fail'
              WHEN json_type(spec, '$.sequence') IS NOT NULL THEN 'sequence'
              WHEN json_type(spec, '$.gather') IS NOT NULL THEN 'gather'
              WHEN json_type(spec, '$.wait_for') IS NOT NULL THEN 'wait_for'
              WHEN json_type(spec, '$.wait_for_ms') IS NOT NULL THEN 'wait_for_ms'
              WHEN json_type(spec, '$.exec') IS NOT NULL THEN 'exec'
              ELSE '' END;
CREATE INDEX tasks_state ON tasks(state, seq);
CREATE INDEX tasks_name ON tasks(name, seq);
CREATE INDEX tasks_finished ON tasks(finished_ms, seq) WHERE state NOT IN ('pending', 'running');
)sql"},
    {3, R"sql(
ALTER TABLE tasks ADD COLUMN idempotency_key TEXT;
CREATE INDEX tasks_idempotency_key ON tasks(idempotency_key) WHERE idempotency_key IS NOT NULL;
)sql"},
    {4, R"sql(
ALTER TABLE tasks ADD COLUMN interrupted_ms INTEGER NOT NULL DEFAULT 0;
)sql"},
    {5, R"sql(
ALTER TABLE tasks ADD COLUMN run_at_ms INTEGER;
CREATE INDEX tasks_run_at ON tasks(run_at_ms, seq) WHERE state = 'scheduled';
DROP INDEX tasks_finished;
CREATE INDEX tasks_finished ON tasks(finished_ms, seq)
  WHERE state NOT IN ('scheduled', 'pending', 'running');
)sql"},
    {6, R"sql(
CREATE TABLE settings(
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  body TEXT NOT NULL,
  fired_ms INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (kind, name));
ALTER TABLE tasks ADD COLUMN queue TEXT NOT NULL DEFAULT 'default';
ALTER TABLE tasks ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
UPDATE tasks SET
  queue = coalesce(json_extract(spec, '$.queue'), 'default'),
  priority = coalesce(json_extract(spec, '$.priority'), 0)
  WHERE state IN ('scheduled', 'pending', 'running') AND json_valid(spec)
    AND json_type(spec, '$.priority') IS NOT 'text';
CREATE INDEX tasks_claim ON tasks(queue, priority DESC, seq) WHERE state = 'pending';
)sql"},
    {7, R"sql(
CREATE TABLE task_outputs(
  seq INTEGER NOT NULL,
  step INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (seq, step));
INSERT INTO task_outputs(seq, step, body)
  SELECT seq, -1, output FROM tasks WHERE output IS NOT NULL AND output <> x'90';
ALTER TABLE tasks DROP COLUMN output;
CREATE TRIGGER tasks_outputs_deleted AFTER DELETE ON tasks BEGIN
  DELETE FROM task_outputs WHERE seq = OLD.seq;
END;
)sql"},
};

int read_version(sqlite3* db, const std::string& path) {
  sqlite::Stmt s(db, "SELECT value FROM meta WHERE key = 'schema'", path);
  sqlite::Use use(s);
  if (sqlite3_step(use.get()) != SQLITE_ROW) return 0;
  return static_cast<int>(sqlite3_column_int64(use.get(), 0));
}

}  // namespace

int migrate_schema(sqlite3* db, const std::string& path, int target_version) {
  sqlite::exec(db, path,
               "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  const int found = read_version(db, path);
  if (found > target_version) {
    throw StoreError(path + ": written by a newer uasyncd (schema " + std::to_string(found) +
                     ", this one knows up to " + std::to_string(target_version) + ")");
  }
  for (const SqliteMigration& m : std::span(kSqliteMigrations)) {
    if (m.version <= found || m.version > target_version) continue;
    sqlite::exec(db, path, "BEGIN IMMEDIATE");
    try {
      sqlite::exec(db, path, m.sql);
      const std::string bump = "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema', '" +
                               std::to_string(m.version) + "')";
      sqlite::exec(db, path, bump.c_str());
      sqlite::exec(db, path, "COMMIT");
    } catch (...) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
  return found;
}

}  // namespace uasyncd::server
