// Small RAII helpers over libpq, shared by the PostgreSQL store and its readers. Every statement
// is sent with binary parameters and asks for binary results, so text and bytea travel as bytes
// (no escaping, no encoding surprises) and integers as 8-byte big-endian values.
//
// Threads: a Connection is used by one thread at a time (libpq's rule); Params and Result are
// plain values.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "uasyncd/store/store_error.hpp"

namespace uasyncd::server::pg {

// The parameters of one statement, $1 on, each with its type.
class Params {
 public:
  Params& int8(std::int64_t v);
  Params& text(std::string_view v);   // must be valid UTF-8 without NUL: names of states, kinds
  Params& bytes(std::string_view v);  // bytea: any bytes
  Params& null_int8();
  Params& null_bytes();
  // bytea, NULL when empty (the "absent" of JobRow's text fields).
  Params& bytes_or_null(std::string_view v) { return v.empty() ? null_bytes() : bytes(v); }

  int size() const { return static_cast<int>(types_.size()); }
  const Oid* types() const { return types_.data(); }
  std::vector<const char*> values() const;
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  Params& add(Oid type, std::string bytes, bool null);
  std::vector<Oid> types_;
  std::vector<std::string> data_;
  std::vector<bool> null_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// A result in binary format.
class Result {
 public:
  explicit Result(PGresult* r = nullptr) : r_(r, &PQclear) {}
  int rows() const { return PQntuples(r_.get()); }
  bool null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  // bigint (int8), integer (int4) or NULL (0).
  std::int64_t integer(int row, int col) const;
  // text or bytea, as bytes ("" when NULL).
  std::string bytes(int row, int col) const;
  // The rows an INSERT, UPDATE or DELETE changed.
  std::uint64_t changed() const;
  PGresult* get() const { return r_.get(); }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> r_;
};

// One statement of a pipeline (Connection::run_together).
struct Statement {
  std::string sql;
  Params params;
};

class Connection {
 public:
  // Connects (a libpq connection string or URI). Throws StoreError without the password.
  explicit Connection(const std::string& url);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // "database NAME on HOST:PORT" (HOST may be a socket directory): for messages.
  const std::string& where() const { return where_; }
  // False once the connection broke, or was given up (run_together).
  bool ok() const { return !given_up_ && PQstatus(c_) == CONNECTION_OK; }
  // Reconnects when the connection is broken; true if it is usable now. The session's state
  // (locks, settings) is gone after a reconnect.
  bool reconnect();

  // Runs a statement; throws StoreError ("WHERE: WHAT: the server's message") unless it
  // succeeds.
  Result run(const char* sql, const Params& params, const char* what);
  Result run(const char* sql, const char* what) { return run(sql, Params(), what); }
  // Statements sent together and answered together (libpq's pipeline mode): one round trip, and
  // one implicit transaction: all of them apply, or (on the first error, or a lost connection)
  // none. Their results, in order; throws StoreError as run() does.
  std::vector<Result> run_together(const std::vector<Statement>& statements, const char* what);
  // Several statements without parameters (a migration), in text format.
  void run_script(const char* sql, const char* what);
  // The same, for statements whose failure is expected and handled (a rollback).
  void run_quietly(const char* sql);

  PGconn* get() const { return c_; }

 private:
  PGconn* c_ = nullptr;
  std::string where_;
  bool given_up_ = false;  // left in a state no statement can follow: reconnect() first
};

}  // namespace uasyncd::server::pg
