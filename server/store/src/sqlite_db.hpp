// Small RAII helpers over the SQLite C API, shared by the writer's file and the readers.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>

#include "uasyncd/store/job_row.hpp"
#include "uasyncd/store/store_error.hpp"

namespace uasyncd::server::sqlite {

// A prepared statement, reset (bindings cleared) by each use's Use guard.
class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3* db, const char* sql, const std::string& path);
  Stmt(Stmt&& o) noexcept : s_(o.s_) { o.s_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(s_); }
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3_stmt* s_ = nullptr;
};

// Resets the statement when the use ends, whatever happened.
class Use {
 public:
  explicit Use(const Stmt& s) : s_(s.get()) {}
  ~Use() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3_stmt* s_;
};

[[noreturn]] void fail(sqlite3* db, const std::string& path, const std::string& what);
void exec(sqlite3* db, const std::string& path, const char* sql);

std::string column_text(sqlite3_stmt* s, int col);
// Binds `text`, or NULL when it is empty (the bound text must outlive the step).
void bind_text_or_null(sqlite3_stmt* s, int col, const std::string& text);
void bind_text(sqlite3_stmt* s, int col, const std::string& text);

// The columns a full row is read with, in order: see read_row.
inline constexpr const char* kRowColumns =
    "seq, spec, name, kind, state, attempts, created_ms, started_ms, finished_ms, result, "
    "error_type, error_message, run_at_ms, steps, idempotency_key, interrupted_ms";
JobRow read_row(sqlite3_stmt* s);
// The statement that reads a job's outputs (kOutputsSql, ?1 its id) into `row.outputs`, by step.
inline constexpr const char* kOutputsSql =
    "SELECT step, body FROM task_outputs WHERE seq = ?1 ORDER BY step";
void read_outputs(sqlite3* db, const Stmt& outputs, const std::string& path, JobRow& row);
// The columns a list reads (no spec or steps), in order: see read_summary.
inline constexpr const char* kSummaryColumns =
    "seq, name, kind, state, attempts, created_ms, started_ms, finished_ms, result, error_type, "
    "error_message, run_at_ms";
JobSummary read_summary(sqlite3_stmt* s);

}  // namespace uasyncd::server::sqlite
