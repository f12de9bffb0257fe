#include "sqlite_file.hpp"

#include <sqlite3.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "sqlite_schema.hpp"

namespace uasyncd::server {
namespace {

namespace fs = std::filesystem;

// The same words as the tasks_finished index (sqlite_schema.cpp), so that SQLite uses it.
constexpr const char* kSqliteFinished = "state NOT IN ('scheduled', 'pending', 'running')";

std::string sqlite_trim_sql(bool before_cutoff) {
  return std::string("DELETE FROM tasks WHERE seq IN (SELECT seq FROM tasks WHERE ") +
         kSqliteFinished + (before_cutoff ? " AND finished_ms < ?2" : "") +
         " ORDER BY finished_ms, seq LIMIT ?1) RETURNING seq, state";
}

// Binds what an insert and an update share, from parameter `first` on; returns the next one.
int bind_outcome(sqlite3_stmt* s, int first, const JobRow& t) {
  int i = first;
  const char* state = state_name(t.state);
  sqlite3_bind_text(s, i++, state, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, i++, t.attempts);
  sqlite3_bind_int64(s, i++, t.started_ms);
  sqlite3_bind_int64(s, i++, t.finished_ms);
  sqlite::bind_text_or_null(s, i++, t.result);
  if (t.error) {
    sqlite::bind_text(s, i++, t.error->type);
    sqlite::bind_text(s, i++, t.error->message);
  } else {
    sqlite3_bind_null(s, i++);
    sqlite3_bind_text(s, i++, "", 0, SQLITE_STATIC);
  }
  sqlite::bind_text_or_null(s, i++, t.steps);
  if (t.run_at_ms != 0) {
    sqlite3_bind_int64(s, i++, t.run_at_ms);
  } else {
    sqlite3_bind_null(s, i++);
  }
  sqlite3_bind_int64(s, i++, t.interrupted_at_ms);
  return i;
}

}  // namespace

SqliteFile::SqliteFile(sqlite3* db, std::string path, int lock_fd)
    : db_(db), path_(std::move(path)), lock_fd_(lock_fd) {}

SqliteFile::~SqliteFile() {
  insert_ = {};
  update_ = {};
  delete_ = {};
  put_output_ = {};
  reset_outputs_ = {};
  set_max_id_ = {};
  set_alive_ = {};
  trim_oldest_ = {};
  trim_before_ = {};
  sqlite3_close_v2(db_);
  // Closed only now: closing another descriptor of the file would drop SQLite's own locks.
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::unique_ptr<SqliteFile> SqliteFile::open(const std::string& dir, bool full_sync) {
  std::error_code ec;
  // Exec specs (commands, env) are stored: a directory we create is the daemon user's alone,
  // as Postgres keeps its own, and the file is 0600 (SQLite gives its -wal and -shm the same).
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (!ec) fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  }
  if (ec) throw StoreError(dir + ": cannot create the data directory: " + ec.message());
  if (!fs::is_directory(dir, ec)) throw StoreError(dir + ": the data directory is not a directory");
  const std::string path = (fs::path(dir) / kFileName).string();
  const bool existed = fs::exists(path, ec);
  if (existed && !fs::is_regular_file(path, ec)) throw StoreError(path + ": not a regular file");
  // A second daemon on the same file must not interleave its writes with ours: an exclusive
  // flock, held while the file is open, makes it fail at start. (SQLite's own exclusive locking
  // mode would also lock out this process's reader connections.)
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw StoreError(path + ": cannot open the task database: " + std::strerror(errno));
  ::fchmod(fd, 0600);  // a file left readable by an older version is tightened too
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    throw StoreError(path + (err == EWOULDBLOCK ? ": the task database is locked by another uasyncd"
                                                : ": cannot lock the task database: " +
                                                      std::string(std::strerror(err))));
  }
  sqlite3* db = nullptr;
  // NOMUTEX: one thread at a time uses the connection (the starting thread, then the writer).
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    const std::string why = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    ::close(fd);
    throw StoreError(path + ": cannot open the task database: " + why);
  }
  std::unique_ptr<SqliteFile> file(new SqliteFile(db, path, fd));
  file->setup(existed, full_sync);
  return file;
}

void SqliteFile::setup(bool existed, bool full_sync) {
  sqlite3_extended_result_codes(db_, 1);
  {
    sqlite::Stmt wal(db_, "PRAGMA journal_mode=WAL", path_);
    sqlite::Use use(wal);
    if (sqlite3_step(use.get()) != SQLITE_ROW) sqlite::fail(db_, path_, "cannot read the database");
    if (sqlite::column_text(use.get(), 0) != "wal")
      sqlite::fail(db_, path_, "cannot switch to WAL mode");
  }
  // FULL: in WAL mode the log is fsynced at every commit, so a 201 survives a power cut, not only
  // a crash of the process. Group commits pay that fsync once per batch, not once per submit.
  // NORMAL leaves the fsync to checkpoints: a kill -9 loses nothing, a power cut may lose the
  // last commits (never consistency).
  sqlite::exec(db_, path_, full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  {
    sqlite::Stmt check(db_, "PRAGMA quick_check", path_);
    sqlite::Use use(check);
    if (sqlite3_step(use.get()) != SQLITE_ROW)
      sqlite::fail(db_, path_, "cannot check the database");
    const std::string verdict = sqlite::column_text(use.get(), 0);
    if (verdict != "ok") throw StoreError(path_ + ": the database is corrupt: " + verdict);
  }
  if (existed) {
    // Never adopt (and so write into) an SQLite file that is not ours.
    sqlite::Stmt tables(db_, "SELECT count(*) FROM sqlite_schema", path_);
    sqlite::Use all(tables);
    sqlite3_step(all.get());
    const bool has_any = sqlite3_column_int64(all.get(), 0) > 0;
    sqlite::Stmt ours(db_, "SELECT count(*) FROM sqlite_schema WHERE name IN ('meta', 'tasks')",
                      path_);
    sqlite::Use mine(ours);
    sqlite3_step(mine.get());
    if (has_any && sqlite3_column_int64(mine.get(), 0) != 2) {
      throw StoreError(path_ + ": not a uasyncd task database (other tables in it)");
    }
  }
  opened_version_ = migrate_schema(db_, path_, kSchemaVersion);
  // A write at start: a read-only file or directory or a full disk fails here, not at the first
  // submit.
  sqlite::exec(db_, path_,
               "INSERT OR REPLACE INTO meta(key, value) VALUES ('opened', strftime('%s', 'now'))");
  // Start from an empty log: what the migrations and the last run wrote goes into the file now.
  sqlite::exec(db_, path_, "PRAGMA wal_checkpoint(TRUNCATE)");
  insert_ = sqlite::Stmt(db_,
                         "INSERT OR REPLACE INTO tasks(seq, spec, name, kind, created_ms, state, "
                         "attempts, started_ms, finished_ms, result, error_type, error_message, "
                         "steps, run_at_ms, interrupted_ms, idempotency_key, queue, priority) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         path_);
  // Fenced: a write of an earlier attempt than the row's never applies.
  update_ =
      sqlite::Stmt(db_,
                   "UPDATE tasks SET state = ?, attempts = ?, started_ms = ?, finished_ms = ?, "
                   "result = ?, error_type = ?, error_message = ?, steps = coalesce(?, steps), "
                   "run_at_ms = ?, interrupted_ms = ? "
                   "WHERE seq = ? AND attempts <= ?",
                   path_);
  // A task's outputs go with it (trigger tasks_outputs_deleted, sqlite_schema.cpp).
  delete_ = sqlite::Stmt(db_, "DELETE FROM tasks WHERE seq = ?", path_);
  put_output_ = sqlite::Stmt(
      db_, "INSERT OR REPLACE INTO task_outputs(seq, step, body) VALUES (?, ?, ?)", path_);
  reset_outputs_ = sqlite::Stmt(db_, "DELETE FROM task_outputs WHERE seq = ?", path_);
  set_max_id_ = sqlite::Stmt(db_,
                             "UPDATE meta SET value = CAST(max(CAST(value AS INTEGER), ?) AS TEXT) "
                             "WHERE key = 'max_seq'",
                             path_);
  set_alive_ = sqlite::Stmt(
      db_, "INSERT OR REPLACE INTO meta(key, value) VALUES ('alive_ms', CAST(? AS TEXT))", path_);
  put_setting_ = sqlite::Stmt(
      db_, "INSERT OR REPLACE INTO settings(kind, name, body, fired_ms) VALUES (?, ?, ?, ?)",
      path_);
  delete_setting_ = sqlite::Stmt(db_, "DELETE FROM settings WHERE kind = ? AND name = ?", path_);
  trim_oldest_ = sqlite::Stmt(db_, sqlite_trim_sql(false).c_str(), path_);
  trim_before_ = sqlite::Stmt(db_, sqlite_trim_sql(true).c_str(), path_);
}

void SqliteFile::run(sqlite3_stmt* s) {
  const int rc = sqlite3_step(s);
  if (rc != SQLITE_DONE) sqlite::fail(db_, path_, "cannot write");
}

void SqliteFile::write_outputs(const JobRow& row) {
  if (row.outputs_reset) {
    sqlite::Use use(reset_outputs_);
    sqlite3_bind_int64(use.get(), 1, static_cast<std::int64_t>(row.id));
    run(use.get());
  }
  for (const StepOutput& o : row.outputs) {
    sqlite::Use use(put_output_);
    sqlite3_stmt* s = use.get();
    sqlite3_bind_int64(s, 1, static_cast<std::int64_t>(row.id));
    sqlite3_bind_int64(s, 2, o.step);
    // MessagePack (job_row.cpp), which may hold any byte: a blob, not text.
    sqlite3_bind_blob(s, 3, o.body.data(), static_cast<int>(o.body.size()), SQLITE_STATIC);
    run(s);
  }
}

std::vector<RemovedJob> SqliteFile::retain(const RetentionStep& step) {
  std::vector<RemovedJob> removed;
  const auto take = [&](const sqlite::Stmt& stmt, std::size_t n, std::optional<std::int64_t> cut) {
    if (n == 0) return;
    sqlite::Use use(stmt);
    sqlite3_bind_int64(use.get(), 1, static_cast<std::int64_t>(n));
    if (cut) sqlite3_bind_int64(use.get(), 2, *cut);
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(use.get())) == SQLITE_ROW) {
      removed.push_back({static_cast<std::uint64_t>(sqlite3_column_int64(use.get(), 0)),
                         parse_state(sqlite::column_text(use.get(), 1)).value_or(JobState::done)});
    }
    if (rc != SQLITE_DONE) sqlite::fail(db_, path_, "cannot delete old finished tasks");
  };
  take(trim_oldest_, std::min(step.excess, step.limit), std::nullopt);
  if (step.cutoff_ms && removed.size() < step.limit) {
    take(trim_before_, step.limit - removed.size(), step.cutoff_ms);
  }
  return removed;
}

SqliteFile::Written SqliteFile::write(const WriteBatch& batch, const RetentionStep& retention) {
  Written out;
  sqlite::exec(db_, path_, "BEGIN IMMEDIATE");
  try {
    for (const JobRow& t : batch.inserts) {
      sqlite::Use use(insert_);
      sqlite3_stmt* s = use.get();
      sqlite3_bind_int64(s, 1, static_cast<std::int64_t>(t.id));
      sqlite::bind_text(s, 2, t.spec);
      sqlite::bind_text(s, 3, t.name);
      sqlite::bind_text(s, 4, t.kind);
      sqlite3_bind_int64(s, 5, t.created_ms);
      const int key_at = bind_outcome(s, 6, t);
      sqlite::bind_text_or_null(s, key_at, t.idempotency_key);
      sqlite::bind_text(s, key_at + 1, t.queue);
      sqlite3_bind_int64(s, key_at + 2, t.priority);
      run(s);
      write_outputs(t);
    }
    for (const JobRow& t : batch.updates) {
      sqlite::Use use(update_);
      sqlite3_stmt* s = use.get();
      const int next = bind_outcome(s, 1, t);
      sqlite3_bind_int64(s, next, static_cast<std::int64_t>(t.id));
      sqlite3_bind_int64(s, next + 1, t.attempts);
      run(s);
      // A fenced-out write's outputs are dropped with it.
      if (sqlite3_changes(db_) == 0) {
        ++out.fenced;
      } else {
        write_outputs(t);
      }
    }
    for (std::uint64_t id : batch.deletes) {
      sqlite::Use use(delete_);
      sqlite3_bind_int64(use.get(), 1, static_cast<std::int64_t>(id));
      run(use.get());
    }
    for (const SettingRow& row : batch.settings) {
      sqlite::Use use(row.erase ? delete_setting_ : put_setting_);
      sqlite3_stmt* s = use.get();
      // Bound without a copy (SQLITE_STATIC): it must outlive the step.
      const std::string kind = setting_kind_name(row.kind);
      sqlite::bind_text(s, 1, kind);
      sqlite::bind_text(s, 2, row.name);
      if (!row.erase) {
        sqlite::bind_text(s, 3, row.body);
        sqlite3_bind_int64(s, 4, row.fired_ms);
      }
      run(s);
    }
    out.removed = retain(retention);
    // Only a delete can take away the highest id; recording it in every commit would write one
    // more page each time.
    if (batch.max_id > 0 && (!batch.deletes.empty() || !out.removed.empty())) {
      sqlite::Use use(set_max_id_);
      sqlite3_bind_int64(use.get(), 1, static_cast<std::int64_t>(batch.max_id));
      run(use.get());
    }
    if (batch.alive_ms) {
      sqlite::Use use(set_alive_);
      sqlite3_bind_int64(use.get(), 1, *batch.alive_ms);
      run(use.get());
    }
    sqlite::exec(db_, path_, "COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  return out;
}

std::uint64_t SqliteFile::max_id() {
  sqlite::Stmt s(db_,
                 "SELECT max((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'max_seq'), "
                 "coalesce((SELECT max(seq) FROM tasks), 0))",
                 path_);
  sqlite::Use use(s);
  if (sqlite3_step(use.get()) != SQLITE_ROW) return 0;
  return static_cast<std::uint64_t>(sqlite3_column_int64(use.get(), 0));
}

std::optional<std::int64_t> SqliteFile::alive_ms() {
  sqlite::Stmt s(db_, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'alive_ms'", path_);
  sqlite::Use use(s);
  if (sqlite3_step(use.get()) != SQLITE_ROW) return std::nullopt;
  return sqlite3_column_int64(use.get(), 0);
}

StateCounts SqliteFile::count_states() {
  sqlite::Stmt s(db_, "SELECT state, count(*) FROM tasks GROUP BY state", path_);
  sqlite::Use use(s);
  StateCounts counts{};
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(use.get())) == SQLITE_ROW) {
    const std::optional<JobState> state = parse_state(sqlite::column_text(use.get(), 0));
    if (state) counts[static_cast<std::size_t>(*state)] += sqlite3_column_int64(use.get(), 1);
  }
  if (rc != SQLITE_DONE) sqlite::fail(db_, path_, "cannot count the tasks");
  return counts;
}

std::vector<JobRow> SqliteFile::load_live() {
  const std::string sql =
      std::string("SELECT ") + sqlite::kRowColumns +
      " FROM tasks WHERE state IN ('scheduled', 'pending', 'running') ORDER BY seq";
  sqlite::Stmt s(db_, sql.c_str(), path_);
  sqlite::Use use(s);
  std::vector<JobRow> rows;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(use.get())) == SQLITE_ROW)
    rows.push_back(sqlite::read_row(use.get()));
  if (rc != SQLITE_DONE) sqlite::fail(db_, path_, "cannot read the tasks");
  const sqlite::Stmt outputs(db_, sqlite::kOutputsSql, path_);
  for (JobRow& row : rows)
    sqlite::read_outputs(db_, outputs, path_, row);
  return rows;
}

std::vector<SettingRow> SqliteFile::load_settings() {
  sqlite::Stmt s(db_, "SELECT kind, name, body, fired_ms FROM settings ORDER BY kind, name", path_);
  sqlite::Use use(s);
  std::vector<SettingRow> rows;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(use.get())) == SQLITE_ROW) {
    const std::optional<SettingKind> kind = parse_setting_kind(sqlite::column_text(use.get(), 0));
    if (!kind) continue;  // a kind a later uasyncd wrote: not this one's to use
    SettingRow row;
    row.kind = *kind;
    row.name = sqlite::column_text(use.get(), 1);
    row.body = sqlite::column_text(use.get(), 2);
    row.fired_ms = sqlite3_column_int64(use.get(), 3);
    rows.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) sqlite::fail(db_, path_, "cannot read the settings");
  return rows;
}

}  // namespace uasyncd::server
