#include "sqlite_db.hpp"

#include <utility>

namespace uasyncd::server::sqlite {

Stmt::Stmt(sqlite3* db, const char* sql, const std::string& path) {
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s_, nullptr) != SQLITE_OK) {
    fail(db, path, "cannot use the database");
  }
}

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  std::swap(s_, o.s_);
  return *this;
}

void fail(sqlite3* db, const std::string& path, const std::string& what) {
  throw StoreError(path + ": " + what + ": " + sqlite3_errmsg(db));
}

void exec(sqlite3* db, const std::string& path, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string text = message != nullptr ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    throw StoreError(path + ": " + text);
  }
}

std::string column_text(sqlite3_stmt* s, int col) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
  return text == nullptr ? std::string() : std::string(text, sqlite3_column_bytes(s, col));
}

void bind_text(sqlite3_stmt* s, int col, const std::string& text) {
  sqlite3_bind_text(s, col, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
}

void bind_text_or_null(sqlite3_stmt* s, int col, const std::string& text) {
  if (text.empty()) {
    sqlite3_bind_null(s, col);
  } else {
    bind_text(s, col, text);
  }
}

namespace {

JobState state_at(sqlite3_stmt* s, int col) {
  // An unknown state (a damaged row) reads as interrupted: shown, never run.
  return parse_state(column_text(s, col)).value_or(JobState::interrupted);
}

std::optional<ErrorInfo> error_at(sqlite3_stmt* s, int col) {
  if (sqlite3_column_type(s, col) == SQLITE_NULL) return std::nullopt;
  return ErrorInfo{column_text(s, col), column_text(s, col + 1)};
}

// The columns a full row and a summary share, from `name` at column `at` on.
int read_common(sqlite3_stmt* s, int at, JobRow& r) {
  r.name = column_text(s, at);
  r.kind = column_text(s, at + 1);
  r.state = state_at(s, at + 2);
  r.attempts = static_cast<int>(sqlite3_column_int64(s, at + 3));
  r.created_ms = sqlite3_column_int64(s, at + 4);
  r.started_ms = sqlite3_column_int64(s, at + 5);
  r.finished_ms = sqlite3_column_int64(s, at + 6);
  r.result = column_text(s, at + 7);
  r.error = error_at(s, at + 8);
  r.run_at_ms = sqlite3_column_int64(s, at + 10);  // NULL reads as 0: not delayed
  return at + 11;
}

}  // namespace

JobRow read_row(sqlite3_stmt* s) {
  JobRow r;
  r.id = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
  r.spec = column_text(s, 1);
  const int next = read_common(s, 2, r);
  r.steps = column_text(s, next);
  r.idempotency_key = column_text(s, next + 1);
  r.interrupted_at_ms = sqlite3_column_int64(s, next + 2);
  return r;
}

void read_outputs(sqlite3* db, const Stmt& outputs, const std::string& path, JobRow& row) {
  Use use(outputs);
  sqlite3_bind_int64(use.get(), 1, static_cast<std::int64_t>(row.id));
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(use.get())) == SQLITE_ROW) {
    StepOutput& o = row.outputs.emplace_back();
    o.step = sqlite3_column_int64(use.get(), 0);
    // MessagePack, which may hold any byte: a blob.
    const auto* blob = static_cast<const char*>(sqlite3_column_blob(use.get(), 1));
    if (blob != nullptr) {
      o.body.assign(blob, static_cast<std::size_t>(sqlite3_column_bytes(use.get(), 1)));
    }
  }
  if (rc != SQLITE_DONE) fail(db, path, "cannot read a task's output");
}

JobSummary read_summary(sqlite3_stmt* s) {
  JobRow r;
  r.id = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
  read_common(s, 1, r);
  return summary_of(r);
}

}  // namespace uasyncd::server::sqlite
