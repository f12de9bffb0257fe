#include "uasyncd/server/task_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

namespace uasyncd::server {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks(
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
INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', '1'), ('max_seq', '0');
)sql";

// Statements that own their sqlite3_stmt for one use.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3_stmt* s_;
};

std::string column_text(sqlite3_stmt* s, int col) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
  return text == nullptr ? std::string() : std::string(text, sqlite3_column_bytes(s, col));
}

void bind_text(sqlite3_stmt* s, int col, const std::string& text) {
  if (text.empty()) {
    sqlite3_bind_null(s, col);
  } else {
    sqlite3_bind_text(s, col, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
  }
}

// Binds the fields an insert and an update share, from parameter `first` on.
int bind_outcome(sqlite3_stmt* s, int first, const StoredTask& t) {
  int i = first;
  sqlite3_bind_text(s, i++, t.state.data(), static_cast<int>(t.state.size()), SQLITE_STATIC);
  sqlite3_bind_int64(s, i++, t.attempts);
  sqlite3_bind_int64(s, i++, t.started_ms);
  sqlite3_bind_int64(s, i++, t.finished_ms);
  bind_text(s, i++, t.result);
  if (t.error_type) {
    sqlite3_bind_text(s, i++, t.error_type->data(), static_cast<int>(t.error_type->size()),
                      SQLITE_STATIC);
  } else {
    sqlite3_bind_null(s, i++);
  }
  sqlite3_bind_text(s, i++, t.error_message.data(), static_cast<int>(t.error_message.size()),
                    SQLITE_STATIC);
  bind_text(s, i++, t.steps);
  // MessagePack (task_snapshot.cpp), which may hold any byte: a blob, not text.
  if (t.output.empty()) {
    sqlite3_bind_null(s, i++);
  } else {
    sqlite3_bind_blob(s, i++, t.output.data(), static_cast<int>(t.output.size()), SQLITE_STATIC);
  }
  return i;
}

}  // namespace

TaskStore::TaskStore(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

TaskStore::~TaskStore() {
  for (sqlite3_stmt* s : {insert_, update_, delete_, set_max_seq_})
    sqlite3_finalize(s);
  sqlite3_close_v2(db_);
}

void TaskStore::fail(const std::string& what) const {
  throw StoreError(path_ + ": " + what + ": " + sqlite3_errmsg(db_));
}

void TaskStore::exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string text = message != nullptr ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    throw StoreError(path_ + ": " + text);
  }
}

sqlite3_stmt* TaskStore::prepare(const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
    fail("cannot use the database");
  }
  return s;
}

std::unique_ptr<TaskStore> TaskStore::open(const std::string& dir, bool full_sync) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw StoreError(dir + ": cannot create the data directory: " + ec.message());
  if (!fs::is_directory(dir, ec)) throw StoreError(dir + ": the data directory is not a directory");
  const std::string path = (fs::path(dir) / kFileName).string();
  const bool existed = fs::exists(path, ec);
  if (existed && !fs::is_regular_file(path, ec)) {
    throw StoreError(path + ": not a regular file");
  }
  sqlite3* db = nullptr;
  // NOMUTEX: one thread at a time uses the connection (the starting thread, then the writer).
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    const std::string why = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    throw StoreError(path + ": cannot open the task database: " + why);
  }
  std::unique_ptr<TaskStore> store(new TaskStore(db, path));
  store->setup(existed, full_sync);
  return store;
}

void TaskStore::setup(bool existed, bool full_sync) {
  sqlite3_extended_result_codes(db_, 1);
  // A second daemon on the same directory must not interleave its writes with ours: the
  // exclusive lock (taken by the first write below) makes it fail at start instead.
  exec("PRAGMA locking_mode=EXCLUSIVE");
  {
    Stmt wal(prepare("PRAGMA journal_mode=WAL"));
    if (sqlite3_step(wal.get()) != SQLITE_ROW) fail("cannot read the database");
    if (column_text(wal.get(), 0) != "wal") fail("cannot switch to WAL mode");
  }
  // FULL: in WAL mode the log is fsynced at every commit, so a 201 survives a power cut, not only
  // a crash of the process. Group commits pay that fsync once per batch, not once per submit.
  // NORMAL leaves the fsync to checkpoints: a kill -9 loses nothing, a power cut may lose the
  // last commits (never consistency).
  exec(full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  {
    Stmt check(prepare("PRAGMA quick_check"));
    if (sqlite3_step(check.get()) != SQLITE_ROW) fail("cannot check the database");
    const std::string verdict = column_text(check.get(), 0);
    if (verdict != "ok") throw StoreError(path_ + ": the database is corrupt: " + verdict);
  }
  if (existed) {
    // Never adopt (and so write into) an SQLite file that is not ours.
    Stmt tables(prepare("SELECT count(*) FROM sqlite_schema"));
    sqlite3_step(tables.get());
    const bool has_any = sqlite3_column_int64(tables.get(), 0) > 0;
    Stmt ours(prepare("SELECT count(*) FROM sqlite_schema WHERE name IN ('meta', 'tasks')"));
    sqlite3_step(ours.get());
    if (has_any && sqlite3_column_int64(ours.get(), 0) != 2) {
      throw StoreError(path_ + ": not a uasyncd task database (other tables in it)");
    }
  }
  // A write at start: a read-only file or directory or a full disk fails here, not at the first
  // submit.
  exec("BEGIN IMMEDIATE");
  try {
    exec(kSchema);
    exec("INSERT OR REPLACE INTO meta(key, value) VALUES ('opened', strftime('%s', 'now'))");
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  insert_ = prepare(
      "INSERT OR REPLACE INTO tasks(seq, spec, created_ms, state, attempts, started_ms, "
      "finished_ms, result, error_type, error_message, steps, output) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  update_ = prepare(
      "UPDATE tasks SET state = ?, attempts = ?, started_ms = ?, finished_ms = ?, result = ?, "
      "error_type = ?, error_message = ?, steps = coalesce(?, steps), "
      "output = coalesce(?, output) WHERE seq = ?");
  delete_ = prepare("DELETE FROM tasks WHERE seq = ?");
  set_max_seq_ = prepare(
      "UPDATE meta SET value = CAST(max(CAST(value AS INTEGER), ?) AS TEXT) WHERE key = "
      "'max_seq'");
}

std::size_t TaskStore::trim_finished(std::size_t keep, std::size_t batch) {
  constexpr const char* kFinished = "state NOT IN ('pending', 'running')";
  Stmt count(prepare((std::string("SELECT count(*) FROM tasks WHERE ") + kFinished).c_str()));
  if (sqlite3_step(count.get()) != SQLITE_ROW) fail("cannot count the finished tasks");
  const auto finished = static_cast<std::size_t>(sqlite3_column_int64(count.get(), 0));
  if (finished <= keep) return 0;
  // The highest seq may be among the deleted rows: kept in meta, so ids are never reused.
  const std::uint64_t highest = max_seq();
  Stmt remove(prepare((std::string("DELETE FROM tasks WHERE seq IN (SELECT seq FROM tasks WHERE ") +
                       kFinished + " ORDER BY seq LIMIT ?)")
                          .c_str()));
  std::size_t left = finished - keep;
  while (left > 0) {
    const std::size_t n = std::min(left, batch);
    exec("BEGIN IMMEDIATE");
    try {
      sqlite3_bind_int64(remove.get(), 1, static_cast<std::int64_t>(n));
      const int rc = sqlite3_step(remove.get());
      sqlite3_reset(remove.get());
      if (rc != SQLITE_DONE) fail("cannot delete old finished tasks");
      sqlite3_bind_int64(set_max_seq_, 1, static_cast<std::int64_t>(highest));
      const int set = sqlite3_step(set_max_seq_);
      sqlite3_reset(set_max_seq_);
      if (set != SQLITE_DONE) fail("cannot record the highest task id");
      exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
    left -= n;
  }
  return finished - keep;
}

std::vector<StoredTask> TaskStore::load() {
  Stmt s(
      prepare("SELECT seq, spec, state, attempts, created_ms, started_ms, finished_ms, result, "
              "error_type, error_message, steps, output FROM tasks ORDER BY seq"));
  std::vector<StoredTask> rows;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    StoredTask t;
    t.seq = static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 0));
    t.spec = column_text(s.get(), 1);
    t.state = column_text(s.get(), 2);
    t.attempts = sqlite3_column_int64(s.get(), 3);
    t.created_ms = sqlite3_column_int64(s.get(), 4);
    t.started_ms = sqlite3_column_int64(s.get(), 5);
    t.finished_ms = sqlite3_column_int64(s.get(), 6);
    t.result = column_text(s.get(), 7);
    if (sqlite3_column_type(s.get(), 8) != SQLITE_NULL) t.error_type = column_text(s.get(), 8);
    t.error_message = column_text(s.get(), 9);
    t.steps = column_text(s.get(), 10);
    const auto* blob = static_cast<const char*>(sqlite3_column_blob(s.get(), 11));
    if (blob != nullptr) t.output.assign(blob, sqlite3_column_bytes(s.get(), 11));
    rows.push_back(std::move(t));
  }
  if (rc != SQLITE_DONE) fail("cannot read the tasks");
  return rows;
}

std::uint64_t TaskStore::max_seq() {
  Stmt s(
      prepare("SELECT max((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'max_seq'), "
              "coalesce((SELECT max(seq) FROM tasks), 0))"));
  if (sqlite3_step(s.get()) != SQLITE_ROW) return 0;
  return static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 0));
}

void TaskStore::write(const StoreBatch& batch) {
  const auto run = [this](sqlite3_stmt* s) {
    const int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) fail("cannot write");
  };
  exec("BEGIN IMMEDIATE");
  try {
    for (const StoredTask& t : batch.inserts) {
      sqlite3_bind_int64(insert_, 1, static_cast<std::int64_t>(t.seq));
      sqlite3_bind_text(insert_, 2, t.spec.data(), static_cast<int>(t.spec.size()), SQLITE_STATIC);
      sqlite3_bind_int64(insert_, 3, t.created_ms);
      bind_outcome(insert_, 4, t);
      run(insert_);
    }
    for (const StoredTask& t : batch.updates) {
      const int last = bind_outcome(update_, 1, t);
      sqlite3_bind_int64(update_, last, static_cast<std::int64_t>(t.seq));
      run(update_);
    }
    for (std::uint64_t seq : batch.deletes) {
      sqlite3_bind_int64(delete_, 1, static_cast<std::int64_t>(seq));
      run(delete_);
    }
    // Only a delete can take away the highest seq; recording it in every commit would write
    // one more page each time.
    if (batch.max_seq > 0 && !batch.deletes.empty()) {
      sqlite3_bind_int64(set_max_seq_, 1, static_cast<std::int64_t>(batch.max_seq));
      run(set_max_seq_);
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

}  // namespace uasyncd::server
