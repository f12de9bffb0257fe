// Where jobs are kept: the source of truth for every job, live or finished. The service keeps
// only live jobs in RAM and tells the backend of every change; reads of anything (a finished
// job, a list, the counts) come from here, from any thread, without the loop thread.
//
// Three implementations: memory (--ephemeral), SQLite (one daemon per file) and PostgreSQL (one
// daemon per database for now). Designed for a database shared by several daemons:
//   - ids come from the backend (next_id), so they can be unique across writers (a shared
//     backend reserves them in blocks ahead of time; next_id never blocks);
//   - every state change carries the job's id and attempt and is a fenced write: it applies only
//     if the stored row is not at a later attempt (a conditional UPDATE in a shared database;
//     the SQLite backend checks it too, so a stale write can never go back in time);
//   - writes never block the caller: they are queued (write-behind, group commit) and return a
//     ticket; wait_committed(ticket) lets another thread (the one answering a submit with 201)
//     wait for the commit.
//
// Threads: next_id, insert and update are called on the loop thread only (one writer of live
// jobs); erase, reads, tickets and counts from any thread. Implementations are thread-safe.
// Lifetime: outlives the loop thread (the service flushes into it at shutdown); close() commits
// what is queued.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "uasyncd/job/job.hpp"
#include "uasyncd/job/job_json.hpp"
#include "uasyncd/store/job_row.hpp"
#include "uasyncd/store/setting_row.hpp"

namespace uasyncd::server {

using WriteTicket = std::uint64_t;  // 0: nothing to wait for
using StateCounts = std::array<std::uint64_t, kAllJobStates.size()>;

// Counts of matches (a list's total and offset) stop here: past it a total is "at least" and
// an offset unknown, so a count never costs more than this many matches, whatever is retained.
inline constexpr std::uint64_t kListCountCap = 100'000;

// GET /api/tasks: newest first, optionally filtered (every filter given must match), at one of
// four positions: the newest page (none given), `before` (older than that id: the cursor),
// `after` (the `limit` matches just newer than that id; the newest page when fewer than `limit`
// are), or `last` (the oldest page).
struct ListQuery {
  std::optional<JobState> state;
  std::optional<std::string> name;
  // A substring of the name, ignoring ASCII case (A-Z match a-z; other bytes exactly).
  std::optional<std::string> name_contains;
  std::size_t limit = 100;
  std::optional<std::uint64_t> before;
  std::optional<std::uint64_t> after;
  bool last = false;
  // Fill ListPage::total and offset (a count of matches, up to kListCountCap).
  bool count = false;
};

struct ListPage {
  std::vector<JobSummary> jobs;
  std::optional<std::uint64_t> next_cursor;  // the last id listed, when an older match exists
  std::optional<std::uint64_t> prev_cursor;  // the first id listed, when a newer match exists
  // With ListQuery::count: the matches in all (at least kListCountCap when `total_capped`), and
  // how many matches are newer than the first listed (nullopt past kListCountCap).
  std::uint64_t total = 0;
  bool total_capped = false;
  std::optional<std::uint64_t> offset;
};

// A job a backend removed (retention), with the state it had.
struct RemovedJob {
  std::uint64_t id = 0;
  JobState state = JobState::done;
};

// How long finished jobs are kept: at most `keep_finished` rows (the longest finished go first),
// and none finished more than `keep_for` ago. Applied in bounded batches as writes go on.
struct Retention {
  std::size_t keep_finished = 10'000;
  std::optional<std::chrono::milliseconds> keep_for;
};

struct BackendOptions {
  Retention retention;
  // Told of jobs retention removed (not of erase()), so caches of them can be dropped and
  // clients told. Called on the thread that applied it (the writer's, or the caller's for the
  // memory backend), once the removal is visible to reads; not for the retention applied when
  // the backend opens (no one can be told then).
  std::function<void(std::span<const RemovedJob> jobs)> on_removed;
};

struct BackendStats {
  std::uint64_t commits = 0;       // transactions (group commits)
  std::uint64_t rows = 0;          // rows written in them
  std::uint64_t fenced = 0;        // writes dropped because the row was at a later attempt
  std::uint64_t removed = 0;       // finished rows removed by retention
  std::uint64_t output_bytes = 0;  // exec output written (StepOutput bodies), fenced or not
  double commit_seconds = 0;       // time spent in commits, all of them (latency = this / commits)
};

class JobBackend {
 public:
  virtual ~JobBackend() = default;

  // ---- writes: loop thread (erase: any thread) ----
  // A fresh id, never handed out before (not even by an earlier run on the same store).
  virtual std::uint64_t next_id() = 0;
  // A new job (pending, with its spec).
  virtual WriteTicket insert(const Job& job) = 0;
  // New jobs written as one (a batch submit): a durable backend commits them in one transaction,
  // so after a crash either all of them are stored or none is; readers never see part of them.
  // The ticket covers them all. The jobs are only read during the call.
  virtual WriteTicket insert_all(std::span<const Job* const> jobs) = 0;
  // The job changed from state `was` (its state now may be the same: a step changed).
  // `with_output`: an exec step has ended since the last write: the output of each ended exec
  // step not stored yet is written too, and marked stored in the job (add_new_outputs), so each
  // step's output is written once.
  virtual WriteTicket update(Job& job, JobState was, bool with_output) = 0;
  // Forgets a finished job whose state is `state`.
  virtual WriteTicket erase(std::uint64_t id, JobState state) = 0;
  // Writes (or, `row.erase`, deletes) a named setting: a schedule, a queue.
  virtual WriteTicket put_setting(const SettingRow& row) = 0;
  // A schedule's run: the new job and the schedule's row (its fired_ms now that occurrence) in
  // one transaction, so after a crash either both are stored or neither is: an occurrence never
  // fires twice, nor is it marked fired without its task.
  virtual WriteTicket insert_fired(const Job& job, const SettingRow& schedule) = 0;

  // ---- cluster mode (a database several daemons share) ----
  virtual bool shared() const { return false; }
  // The pending job leaves this daemon's hands: written unowned, for any instance to claim
  // (pg_cluster.hpp). The service forgets it once this is queued. Loop thread; a backend that is
  // not shared is never asked.
  virtual WriteTicket release(const Job& /*job*/) { return 0; }

  // ---- the heartbeat: loop thread ----
  // The daemon is alive now: the wall time is stored with the next commit (one that is going to
  // happen anyway, else one of its own), so a restart knows when a job it finds running was last
  // known to run (interrupted_end_ms). The service calls it once a second while jobs run, never
  // when none does. Default: nothing to store (a backend whose jobs die with the process).
  virtual void mark_alive() {}
  // The last heartbeat the store held when it was opened (from the previous run), if any.
  virtual std::optional<std::int64_t> last_alive_ms() const { return std::nullopt; }

  // ---- commits: any thread ----
  virtual bool committed(WriteTicket ticket) const = 0;
  // True once `ticket` (and every write before it) is committed; false when `timeout` passed
  // first or the store is failing.
  virtual bool wait_committed(WriteTicket ticket, std::chrono::milliseconds timeout) = 0;

  // ---- reads: any thread; they see committed writes ----
  virtual std::optional<JobRow> get(std::uint64_t id) = 0;
  // One page of matches, newest first. Costs O(page) for the newest page by state or name; a
  // `name_contains` filter and the counts of `count` walk the matches (counts up to
  // kListCountCap), never the loop thread's time.
  virtual ListPage list(const ListQuery& query) = 0;
  // The retained job a submit with this Idempotency-Key made (an indexed lookup).
  virtual std::optional<std::uint64_t> find_by_key(const std::string& idempotency_key) = 0;
  // Jobs per state, kept as writes are made (never a scan).
  virtual StateCounts counts() const = 0;
  // Pending and running jobs, oldest first: what a starting daemon must run or recover.
  virtual std::vector<JobRow> load_live() = 0;
  // The stored settings of a kind, by name: what a starting daemon's schedules and queues are
  // (a durable backend: as the store held them when it was opened). Loop thread, at start.
  virtual std::vector<SettingRow> load_settings(SettingKind kind) = 0;

  virtual BackendStats stats() const = 0;
  // Why the store cannot be used now (its last commit failed: a full disk, a lost database
  // connection; or, for a database, it does not answer), nullopt when it can. May ask the
  // database (one round trip): for health checks, not for every request. Any thread.
  virtual std::optional<std::string> unavailable_reason() { return std::nullopt; }
  // Commits what is queued, then stops writing (later writes are dropped). Idempotent.
  virtual void close() = 0;
};

// Jobs in memory only: lost at exit. Indexed by id, state and name, so a filtered list costs
// O(page). Writes apply at once (every ticket is committed when returned).
std::unique_ptr<JobBackend> make_memory_backend(BackendOptions options = {});

struct SqliteOptions {
  std::string dir;          // holds uasyncd.db (created if missing)
  bool full_sync = true;    // synchronous=FULL: every commit fsynced (survives a power cut)
  std::size_t readers = 4;  // read connections for the HTTP threads
};
// DIR/uasyncd.db (schema created or migrated, checked, locked against a second daemon, and
// retention applied before anything is read). Throws StoreError naming the file on any failure.
std::unique_ptr<JobBackend> open_sqlite_backend(const SqliteOptions& sqlite,
                                                BackendOptions options = {});

struct PostgresOptions {
  std::string url;          // a libpq connection string or URI (a Unix socket too)
  bool full_sync = true;    // synchronous_commit on: a 201 survives a crash of the server
  std::size_t readers = 4;  // connections for the HTTP threads
  // This daemon's instance id (pg_cluster.hpp), read at each write: live rows are written owned
  // by it, and every update is fenced by it (applied only while the row is still this
  // instance's). Must outlive the backend. Null: rows are written unowned (a tool, a test).
  const std::atomic<std::int64_t>* instance = nullptr;
};
// The tables uasyncd_tasks and uasyncd_meta in the database at `postgres.url` (created or
// migrated, retention applied before anything is read), shared with any other daemon on the
// same database: ids come in blocks reserved in the database, live rows are claimed (not
// loaded), counts are read (cached for a second). Throws StoreError naming the database (never
// the password) on any failure. A lost connection is reopened: meanwhile writes are retried and
// submits wait, as on a full disk.
std::unique_ptr<JobBackend> open_postgres_backend(const PostgresOptions& postgres,
                                                  BackendOptions options = {});

}  // namespace uasyncd::server
