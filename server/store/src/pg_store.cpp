#include "pg_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <utility>

#include "pg_schema.hpp"
#include "uasyncd/store/list_pager.hpp"

namespace uasyncd::server {
namespace {

// The same words as the uasyncd_tasks_finished index (pg_schema.cpp), so that the planner uses
// it.
constexpr const char* kPgFinished = "state NOT IN ('scheduled', 'pending', 'running')";

std::string pg_trim_sql(bool before_cutoff) {
  return std::string(
             "DELETE FROM uasyncd_tasks WHERE seq IN (SELECT seq FROM uasyncd_tasks WHERE ") +
         kPgFinished + (before_cutoff ? " AND finished_ms < $2" : "") +
         " ORDER BY finished_ms, seq LIMIT $1) RETURNING seq, state";
}

// Rows per INSERT or UPDATE statement: one round trip and one parse for up to this many (a
// group commit's rows would otherwise cost a round trip each, which on a loaded machine is
// mostly waiting to be scheduled), well under the protocol's 65,535 parameters.
constexpr std::size_t kRowsPerStatement = 1000;
constexpr std::size_t kInsertColumns = 20;
constexpr std::size_t kUpdateColumns = 14;
constexpr std::size_t kOutputColumns = 3;
constexpr std::size_t kMaxParams = 65'535;

// "($1, $2), ($3, $4)" for rows of `columns` parameters, numbered from `first`.
std::string placeholders(std::size_t rows, std::size_t columns, std::size_t first = 1) {
  std::string out;
  std::size_t n = first - 1;
  for (std::size_t r = 0; r < rows; ++r) {
    out += r == 0 ? "(" : ", (";
    for (std::size_t c = 0; c < columns; ++c) {
      if (c > 0) out += ", ";
      out += '$';
      out += std::to_string(++n);
    }
    out += ')';
  }
  return out;
}

// `returning`: the seq (and a reset of 0) of each row written, for with_outputs_sql.
std::string insert_sql(std::size_t rows, bool returning) {
  return "INSERT INTO uasyncd_tasks(state, attempts, started_ms, finished_ms, result, "
         "error_type, error_message, steps, run_at_ms, interrupted_ms, seq, spec, name, "
         "name_folded, kind, created_ms, idempotency_key, queue, priority, owner) VALUES " +
         placeholders(rows, kInsertColumns) +
         " ON CONFLICT (seq) DO UPDATE SET state = EXCLUDED.state, attempts = EXCLUDED.attempts, "
         "started_ms = EXCLUDED.started_ms, finished_ms = EXCLUDED.finished_ms, "
         "result = EXCLUDED.result, error_type = EXCLUDED.error_type, "
         "error_message = EXCLUDED.error_message, steps = EXCLUDED.steps, "
         "run_at_ms = EXCLUDED.run_at_ms, "
         "interrupted_ms = EXCLUDED.interrupted_ms, spec = EXCLUDED.spec, name = EXCLUDED.name, "
         "name_folded = EXCLUDED.name_folded, kind = EXCLUDED.kind, "
         "created_ms = EXCLUDED.created_ms, idempotency_key = EXCLUDED.idempotency_key, "
         "queue = EXCLUDED.queue, priority = EXCLUDED.priority, owner = EXCLUDED.owner "
         // Only a batch written again after a lost connection meets its own rows here: never
         // over a row another instance took meanwhile.
         "WHERE uasyncd_tasks.owner IS NOT DISTINCT FROM EXCLUDED.owner" +
         (returning ? " RETURNING seq, 0 AS reset" : "");
}

// Fenced: a write of an earlier attempt than the row's never applies, nor one of an instance
// that no longer holds the row (v.fence: the writer's instance; NULL outside cluster mode).
// Empty steps (NULL) leave the stored ones. v.reset: 1 when the row's earlier outputs go.
std::string update_sql(std::size_t rows) {
  return "UPDATE uasyncd_tasks AS t SET state = v.state, attempts = v.attempts, "
         "started_ms = v.started_ms, finished_ms = v.finished_ms, result = v.result, "
         "error_type = v.error_type, error_message = v.error_message, "
         "steps = coalesce(v.steps, t.steps), "
         "run_at_ms = v.run_at_ms, interrupted_ms = v.interrupted_ms, owner = v.owner FROM "
         "(VALUES " +
         placeholders(rows, kUpdateColumns) +
         ") AS v(state, attempts, started_ms, finished_ms, result, error_type, error_message, "
         "steps, run_at_ms, interrupted_ms, seq, fence, owner, reset) "
         "WHERE t.seq = v.seq AND t.attempts <= v.attempts AND t.owner IS NOT DISTINCT FROM "
         "v.fence RETURNING t.seq, v.reset";
}

// `rows_sql` (an INSERT or UPDATE of tasks, RETURNING the seq and reset of each row it wrote)
// followed, in the same statement, by the exec outputs of the rows it wrote: `outputs` rows of
// (seq, step, body) parameters from $first on. Keyed on what the row statement returned, so the
// outputs of a fenced-out write (an earlier attempt, or another instance's row) never land. A
// reset deletes the row's stored outputs but those it writes again (a statement may not change
// one row twice). Answers the number of task rows written.
std::string with_outputs_sql(const std::string& rows_sql, std::size_t first, std::size_t outputs,
                             bool resets) {
  std::string sql = "WITH u AS (" + rows_sql + ")";
  if (outputs > 0) {
    sql += ", n(seq, step, body) AS (VALUES " + placeholders(outputs, kOutputColumns, first) + ")";
  }
  if (resets) {
    sql += ", d AS (DELETE FROM uasyncd_task_outputs o USING u WHERE o.seq = u.seq AND u.reset = 1";
    if (outputs > 0) {
      sql += " AND NOT EXISTS (SELECT 1 FROM n WHERE n.seq = o.seq AND n.step = o.step)";
    }
    sql += ")";
  }
  if (outputs > 0) {
    sql +=
        ", i AS (INSERT INTO uasyncd_task_outputs(seq, step, body) SELECT n.seq, n.step, n.body "
        "FROM n WHERE n.seq IN (SELECT seq FROM u) "
        "ON CONFLICT (seq, step) DO UPDATE SET body = EXCLUDED.body)";
  }
  return sql + " SELECT count(*) FROM u";
}

// Rows [begin, end) of a batch's inserts or updates, written by one statement: at most
// kRowsPerStatement, with their outputs within the protocol's parameters.
struct Chunk {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::size_t outputs = 0;
  bool resets = false;
};

std::vector<Chunk> chunks_of(const std::vector<JobRow>& rows, std::size_t columns) {
  std::vector<Chunk> out;
  Chunk c;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::size_t n = rows[i].outputs.size();
    const std::size_t params = (i + 1 - c.begin) * columns + (c.outputs + n) * kOutputColumns;
    if (i > c.begin && (i - c.begin == kRowsPerStatement || params > kMaxParams)) {
      out.push_back(c);
      c = Chunk{i, i, 0, false};
    }
    c.end = i + 1;
    c.outputs += n;
    c.resets = c.resets || rows[i].outputs_reset;
  }
  if (c.end > c.begin) out.push_back(c);
  return out;
}

void add_outputs(pg::Params& p, const std::vector<JobRow>& rows, const Chunk& c) {
  for (std::size_t i = c.begin; i < c.end; ++i) {
    for (const StepOutput& o : rows[i].outputs)
      p.int8(static_cast<std::int64_t>(rows[i].id)).int8(o.step).bytes(o.body);
  }
}

// A schedule's run in a shared database (SettingRow::guard_job): the schedule's row takes the
// occurrence only if it is later than the stored one (for an occurrence; a manual trigger is
// not one) and the schedule is stored as this daemon knows it (its counters aside); else the
// run's row, inserted earlier in the same transaction, is deleted. $1 name, $2 fired_ms, $3
// body, $4 the run's id, $5 1 for an occurrence.
constexpr const char* kGuardedFireSql =
    "WITH g AS (UPDATE uasyncd_settings SET fired_ms = greatest(fired_ms, $2), body = $3 "
    "WHERE kind = 'schedule' AND name = $1 AND ($5 = 0 OR fired_ms < $2) AND "
    "(convert_from(body, 'UTF8')::jsonb - 'last_run_id' - 'runs' - 'skipped') = "
    "(convert_from($3, 'UTF8')::jsonb - 'last_run_id' - 'runs' - 'skipped') RETURNING 1) "
    "DELETE FROM uasyncd_tasks WHERE seq = $4 AND NOT EXISTS (SELECT 1 FROM g)";

// What an insert and an update share (their first 11 columns), and the id.
void add_outcome(pg::Params& p, const JobRow& t) {
  p.text(state_name(t.state)).int8(t.attempts).int8(t.started_ms).int8(t.finished_ms);
  p.bytes_or_null(t.result);
  if (t.error) {
    p.bytes(t.error->type).bytes(t.error->message);
  } else {
    p.null_bytes().bytes("");
  }
  p.bytes_or_null(t.steps);
  if (t.run_at_ms != 0) {
    p.int8(t.run_at_ms);
  } else {
    p.null_int8();
  }
  p.int8(t.interrupted_at_ms);
  p.int8(static_cast<std::int64_t>(t.id));
}

// The columns a full row and a summary share, seq to run_at_ms (kPgSummaryColumns).
void read_common(const pg::Result& r, int row, JobRow& t) {
  t.id = static_cast<std::uint64_t>(r.integer(row, 0));
  t.name = r.bytes(row, 1);
  t.kind = r.bytes(row, 2);
  // An unknown state (a damaged row) reads as interrupted: shown, never run.
  t.state = parse_state(r.bytes(row, 3)).value_or(JobState::interrupted);
  t.attempts = static_cast<int>(r.integer(row, 4));
  t.created_ms = r.integer(row, 5);
  t.started_ms = r.integer(row, 6);
  t.finished_ms = r.integer(row, 7);
  t.result = r.bytes(row, 8);
  if (!r.null(row, 9)) t.error = ErrorInfo{r.bytes(row, 9), r.bytes(row, 10)};
  t.run_at_ms = r.integer(row, 11);  // NULL reads as 0: not delayed
}

}  // namespace

JobRow pg_read_row(const pg::Result& r, int row) {
  JobRow t;
  read_common(r, row, t);
  t.spec = r.bytes(row, 12);
  t.steps = r.bytes(row, 13);
  t.idempotency_key = r.bytes(row, 14);
  t.interrupted_at_ms = r.integer(row, 15);
  t.owner = r.integer(row, 16);
  // The outputs: per output its step (8 bytes), its body's length (4) and its body.
  const auto* p = reinterpret_cast<const unsigned char*>(PQgetvalue(r.get(), row, 17));
  const auto size = static_cast<std::size_t>(PQgetlength(r.get(), row, 17));
  const auto number = [&](std::size_t at, int bytes) {
    std::uint64_t u = 0;
    for (int i = 0; i < bytes; ++i)
      u = (u << 8) | p[at + static_cast<std::size_t>(i)];
    return u;
  };
  for (std::size_t at = 0; at + 12 <= size;) {
    StepOutput& o = t.outputs.emplace_back();
    o.step = static_cast<std::int64_t>(number(at, 8));
    const std::size_t length = std::min<std::size_t>(number(at + 8, 4), size - at - 12);
    o.body.assign(reinterpret_cast<const char*>(p + at + 12), length);
    at += 12 + length;
  }
  return t;
}

JobSummary pg_read_summary(const pg::Result& r, int row) {
  JobRow t;
  read_common(r, row, t);
  return summary_of(t);
}

PgStore::PgStore(const std::string& url, bool full_sync, const std::atomic<std::int64_t>* instance)
    : conn_(url), full_sync_(full_sync), instance_(instance), url_(url) {}

std::unique_ptr<PgStore> PgStore::open(const std::string& url, bool full_sync,
                                       const std::atomic<std::int64_t>* instance) {
  std::unique_ptr<PgStore> store(new PgStore(url, full_sync, instance));
  store->start_session();
  store->opened_version_ = migrate_pg_schema(store->conn_, kSchemaVersion);
  // A write at start: a read-only database or a missing privilege fails here, not at the first
  // submit.
  store->conn_.run(
      "INSERT INTO uasyncd_meta(key, value) VALUES ('opened', "
      "extract(epoch FROM now())::bigint) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
      "cannot write");
  return store;
}

void PgStore::start_session() {
  conn_.run(full_sync_ ? "SET synchronous_commit TO on" : "SET synchronous_commit TO off",
            "cannot set the commit mode");
}

void PgStore::add_fence(pg::Params& p) const {
  // Without an instance (no cluster) rows are unowned, and the fence is NULL to match them. An
  // instance whose lease is lost has id 0, which no row is owned by: its writes apply nowhere.
  if (instance_ != nullptr) {
    p.int8(instance_->load(std::memory_order_acquire));
  } else {
    p.null_int8();
  }
}

void PgStore::add_owner(pg::Params& p, const JobRow& row) const {
  const std::int64_t me = instance_ ? instance_->load(std::memory_order_acquire) : 0;
  if (row.released || is_final(row.state) || me == 0) {
    p.null_int8();
  } else {
    p.int8(me);
  }
}

void PgStore::wake_claimers() {
  // After the commit, never inside it: a NOTIFY in a write transaction holds a database-wide
  // lock until the commit, serialising every commit. Its loss costs a claim poll's delay only.
  try {
    conn_.run("SELECT pg_notify('uasyncd_wake', '')", "cannot wake the other instances");
  } catch (const StoreError& e) {
    spdlog::warn("task store: {}", e.what());
  }
}

std::uint64_t PgStore::reserve_ids(std::uint64_t n) {
  std::lock_guard lock(ids_mu_);
  if (!ids_conn_) ids_conn_ = std::make_unique<pg::Connection>(url_);
  const auto once = [&] {
    if (!ids_conn_->ok() && !ids_conn_->reconnect()) {
      throw StoreError(where() + ": the connection is lost; reconnecting");
    }
    // Past the highest stored id too: a database a single daemon wrote before its meta row.
    const pg::Result r = ids_conn_->run(
        "UPDATE uasyncd_meta SET value = greatest(value, "
        "(SELECT coalesce(max(seq), 0) FROM uasyncd_tasks)) + $1 WHERE key = 'max_seq' "
        "RETURNING value",
        pg::Params().int8(static_cast<std::int64_t>(n)), "cannot reserve ids");
    return static_cast<std::uint64_t>(r.integer(0, 0));
  };
  try {
    return once();
  } catch (const StoreError&) {
    if (ids_conn_->ok()) throw;
  }
  // The session was cut while idle (a server restart, a network cut): it shows only now. Once
  // more on a new one; a block reserved by a statement whose answer was lost is skipped, never
  // given twice.
  return once();
}

void PgStore::reconnect_if_broken() {
  if (conn_.ok()) return;
  if (!conn_.reconnect()) throw StoreError(where() + ": the connection is lost; reconnecting");
  start_session();
}

DurableStore::Written PgStore::write(const WriteBatch& batch, const RetentionStep& retention) {
  reconnect_if_broken();
  try {
    return write_once(batch, retention);
  } catch (const StoreError&) {
    if (conn_.ok()) throw;  // the database refused the write itself
  }
  // The connection broke (the server restarted, the network was cut): the transaction died with
  // it, so the batch is written again, whole, on a new connection, at once, and the clients see
  // nothing of it. Every write in a batch may be applied twice (an insert replaces, an update is
  // fenced, a delete deletes nothing): if the break came after the server committed, the second
  // time changes nothing but what retention removes.
  reconnect_if_broken();
  return write_once(batch, retention);
}

DurableStore::Written PgStore::write_once(const WriteBatch& batch, const RetentionStep& retention) {
  // The whole transaction in one round trip: the statements of a pipeline up to its sync point
  // are one implicit transaction, so no BEGIN and COMMIT are sent.
  std::vector<pg::Statement> statements;
  // A new job has no outputs, unless it ran an exec step before its insert was committed.
  for (const Chunk& c : chunks_of(batch.inserts, kInsertColumns)) {
    const std::size_t n = c.end - c.begin;
    std::string sql = insert_sql(n, c.outputs > 0);
    if (c.outputs > 0) sql = with_outputs_sql(sql, n * kInsertColumns + 1, c.outputs, false);
    pg::Statement& s = statements.emplace_back(pg::Statement{std::move(sql), {}});
    for (std::size_t i = c.begin; i < c.end; ++i) {
      const JobRow& t = batch.inserts[i];
      add_outcome(s.params, t);
      s.params.bytes(t.spec).bytes(t.name).bytes(fold_ascii(t.name)).text(t.kind);
      s.params.int8(t.created_ms).bytes_or_null(t.idempotency_key).text(t.queue).int8(t.priority);
      add_owner(s.params, t);
    }
    add_outputs(s.params, batch.inserts, c);
  }
  // A batch holds each job once (GroupWriter::coalesce), as one statement must.
  const std::vector<Chunk> update_chunks = chunks_of(batch.updates, kUpdateColumns);
  const std::size_t first_update = statements.size();
  for (const Chunk& c : update_chunks) {
    const std::size_t n = c.end - c.begin;
    pg::Statement& s = statements.emplace_back(pg::Statement{
        with_outputs_sql(update_sql(n), n * kUpdateColumns + 1, c.outputs, c.resets), {}});
    for (std::size_t i = c.begin; i < c.end; ++i) {
      add_outcome(s.params, batch.updates[i]);
      add_fence(s.params);
      add_owner(s.params, batch.updates[i]);
      s.params.int8(batch.updates[i].outputs_reset ? 1 : 0);
    }
    add_outputs(s.params, batch.updates, c);
  }
  const std::size_t updates_end = statements.size();
  for (std::size_t at = 0; at < batch.deletes.size(); at += kRowsPerStatement) {
    const std::size_t n = std::min(kRowsPerStatement, batch.deletes.size() - at);
    pg::Statement& s = statements.emplace_back(
        pg::Statement{"DELETE FROM uasyncd_tasks WHERE seq IN " + placeholders(1, n), {}});
    for (std::size_t i = at; i < at + n; ++i)
      s.params.int8(static_cast<std::int64_t>(batch.deletes[i]));
  }
  for (const SettingRow& row : batch.settings) {
    if (row.guard_job != 0) {
      pg::Statement& s = statements.emplace_back(pg::Statement{kGuardedFireSql, {}});
      s.params.bytes(row.name).int8(row.fired_ms).bytes(row.body);
      s.params.int8(static_cast<std::int64_t>(row.guard_job)).int8(row.occurrence ? 1 : 0);
    } else if (row.erase) {
      pg::Statement& s = statements.emplace_back(
          pg::Statement{"DELETE FROM uasyncd_settings WHERE kind = $1 AND name = $2", {}});
      s.params.text(setting_kind_name(row.kind)).bytes(row.name);
    } else {
      pg::Statement& s = statements.emplace_back(
          pg::Statement{"INSERT INTO uasyncd_settings(kind, name, body, fired_ms) "
                        "VALUES ($1, $2, $3, $4) ON CONFLICT (kind, name) DO UPDATE SET "
                        "body = EXCLUDED.body, fired_ms = EXCLUDED.fired_ms",
                        {}});
      s.params.text(setting_kind_name(row.kind)).bytes(row.name).bytes(row.body).int8(row.fired_ms);
    }
  }
  // Retention: the longest finished first, then those finished before the cutoff, at most
  // `limit` rows in all.
  const std::size_t first_trim = statements.size();
  const std::size_t oldest = std::min(retention.excess, retention.limit);
  if (oldest > 0) {
    pg::Statement& s = statements.emplace_back(pg::Statement{pg_trim_sql(false), {}});
    s.params.int8(static_cast<std::int64_t>(oldest));
  }
  if (retention.cutoff_ms && oldest < retention.limit) {
    pg::Statement& s = statements.emplace_back(pg::Statement{pg_trim_sql(true), {}});
    s.params.int8(static_cast<std::int64_t>(retention.limit - oldest)).int8(*retention.cutoff_ms);
  }
  const std::size_t trims_end = statements.size();
  // Only a delete can take away the highest id.
  if (batch.max_id > 0 && (!batch.deletes.empty() || trims_end > first_trim)) {
    pg::Statement& s = statements.emplace_back(pg::Statement{
        "UPDATE uasyncd_meta SET value = greatest(value, $1) WHERE key = 'max_seq'", {}});
    s.params.int8(static_cast<std::int64_t>(batch.max_id));
  }
  if (batch.alive_ms) {
    pg::Statement& s = statements.emplace_back(
        pg::Statement{"INSERT INTO uasyncd_meta(key, value) VALUES ('alive_ms', $1) "
                      "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                      {}});
    s.params.int8(*batch.alive_ms);
  }
  Written out;
  if (statements.empty()) return out;
  const std::vector<pg::Result> results = conn_.run_together(statements, "cannot write");
  if (std::any_of(batch.updates.begin(), batch.updates.end(),
                  [](const JobRow& r) { return r.released; }) ||
      std::any_of(batch.inserts.begin(), batch.inserts.end(),
                  [](const JobRow& r) { return r.released; })) {
    wake_claimers();
  }
  for (std::size_t i = first_update; i < updates_end; ++i) {
    const Chunk& c = update_chunks[i - first_update];
    const auto written = static_cast<std::uint64_t>(results[i].integer(0, 0));
    out.fenced += (c.end - c.begin) - std::min<std::uint64_t>(written, c.end - c.begin);
  }
  for (std::size_t i = first_trim; i < trims_end; ++i) {
    const pg::Result& r = results[i];
    for (int row = 0; row < r.rows(); ++row) {
      out.removed.push_back({static_cast<std::uint64_t>(r.integer(row, 0)),
                             parse_state(r.bytes(row, 1)).value_or(JobState::done)});
    }
  }
  return out;
}

std::uint64_t PgStore::max_id() {
  const pg::Result r = conn_.run(
      "SELECT greatest((SELECT value FROM uasyncd_meta WHERE key = 'max_seq'), "
      "(SELECT max(seq) FROM uasyncd_tasks), 0)",
      "cannot read the highest id");
  return static_cast<std::uint64_t>(r.integer(0, 0));
}

std::optional<std::int64_t> PgStore::alive_ms() {
  const pg::Result r = conn_.run("SELECT value FROM uasyncd_meta WHERE key = 'alive_ms'",
                                 "cannot read the heartbeat");
  if (r.rows() == 0) return std::nullopt;
  return r.integer(0, 0);
}

StateCounts PgStore::count_states() {
  const pg::Result r =
      conn_.run("SELECT state, count(*) FROM uasyncd_tasks GROUP BY state", "cannot count");
  StateCounts counts{};
  for (int i = 0; i < r.rows(); ++i) {
    const std::optional<JobState> state = parse_state(r.bytes(i, 0));
    if (state)
      counts[static_cast<std::size_t>(*state)] += static_cast<std::uint64_t>(r.integer(i, 1));
  }
  return counts;
}

std::vector<JobRow> PgStore::load_live() {
  // An instance of a cluster claims live rows (pg_cluster.hpp): those other instances hold are
  // not its own to run.
  if (instance_ != nullptr) return {};
  const std::string sql =
      std::string("SELECT ") + kPgRowColumns +
      " FROM uasyncd_tasks WHERE state IN ('scheduled', 'pending', 'running') ORDER BY seq";
  const pg::Result r = conn_.run(sql.c_str(), "cannot read the tasks");
  std::vector<JobRow> rows;
  rows.reserve(static_cast<std::size_t>(r.rows()));
  for (int i = 0; i < r.rows(); ++i)
    rows.push_back(pg_read_row(r, i));
  return rows;
}

std::vector<SettingRow> PgStore::load_settings() {
  const pg::Result r =
      conn_.run("SELECT kind, name, body, fired_ms FROM uasyncd_settings ORDER BY kind, name",
                "cannot read the settings");
  std::vector<SettingRow> rows;
  for (int i = 0; i < r.rows(); ++i) {
    const std::optional<SettingKind> kind = parse_setting_kind(r.bytes(i, 0));
    if (!kind) continue;  // a kind a later uasyncd wrote: not this one's to use
    rows.push_back({*kind, r.bytes(i, 1), r.bytes(i, 2), r.integer(i, 3), false});
  }
  return rows;
}

}  // namespace uasyncd::server
