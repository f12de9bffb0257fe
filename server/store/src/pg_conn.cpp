#include "pg_conn.hpp"

#include <cstring>
#include <utility>

namespace uasyncd::server::pg {
namespace {

// Type oids of the built-in types (pg_type.h, stable across versions).
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;

std::string be64(std::int64_t v) {
  std::string out(8, '\0');
  auto u = static_cast<std::uint64_t>(v);
  for (int i = 7; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = static_cast<char>(u & 0xff);
    u >>= 8;
  }
  return out;
}

// libpq's messages end with a newline; ours put them inside a sentence.
std::string message_of(const char* text) {
  std::string m = text != nullptr ? text : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' '))
    m.pop_back();
  return m.empty() ? "unknown error" : m;
}

}  // namespace

Params& Params::add(Oid type, std::string bytes, bool null) {
  types_.push_back(type);
  lengths_.push_back(static_cast<int>(bytes.size()));
  formats_.push_back(1);
  data_.push_back(std::move(bytes));
  null_.push_back(null);
  return *this;
}

Params& Params::int8(std::int64_t v) {
  return add(kInt8Oid, be64(v), false);
}
Params& Params::text(std::string_view v) {
  return add(kTextOid, std::string(v), false);
}
Params& Params::bytes(std::string_view v) {
  return add(kByteaOid, std::string(v), false);
}
Params& Params::null_int8() {
  return add(kInt8Oid, {}, true);
}
Params& Params::null_bytes() {
  return add(kByteaOid, {}, true);
}

std::vector<const char*> Params::values() const {
  std::vector<const char*> out;
  out.reserve(data_.size());
  for (std::size_t i = 0; i < data_.size(); ++i)
    out.push_back(null_[i] ? nullptr : data_[i].data());
  return out;
}

std::int64_t Result::integer(int row, int col) const {
  if (null(row, col)) return 0;
  const auto* p = reinterpret_cast<const unsigned char*>(PQgetvalue(r_.get(), row, col));
  const int n = PQgetlength(r_.get(), row, col);
  if (n != 8 && n != 4) throw StoreError("unexpected integer of " + std::to_string(n) + " bytes");
  std::uint64_t u = 0;
  for (int i = 0; i < n; ++i)
    u = (u << 8) | p[i];
  if (n == 4) return static_cast<std::int32_t>(static_cast<std::uint32_t>(u));
  return static_cast<std::int64_t>(u);
}

std::string Result::bytes(int row, int col) const {
  if (null(row, col)) return {};
  return std::string(PQgetvalue(r_.get(), row, col),
                     static_cast<std::size_t>(PQgetlength(r_.get(), row, col)));
}

std::uint64_t Result::changed() const {
  const char* n = PQcmdTuples(r_.get());
  return n != nullptr && *n != '\0' ? std::stoull(n) : 0;
}

Connection::Connection(const std::string& url) {
  // Defaults first: a value the URL gives overrides them (libpq keeps the last one it reads).
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {"10", "uasyncd", url.c_str(), nullptr};
  c_ = PQconnectdbParams(keys, values, 1);
  if (c_ == nullptr) throw StoreError("postgres: out of memory");
  const char* host = PQhost(c_);
  const char* port = PQport(c_);
  const char* db = PQdb(c_);
  where_ = std::string("postgres database ") + (db != nullptr ? db : "?") + " on " +
           (host != nullptr ? host : "?") + ":" + (port != nullptr ? port : "?");
  if (PQstatus(c_) != CONNECTION_OK) {
    const std::string why = message_of(PQerrorMessage(c_));
    PQfinish(c_);
    c_ = nullptr;
    throw StoreError(where_ + ": cannot connect: " + why);
  }
  // Notices (an IF NOT EXISTS that skipped) are not errors: the log stays quiet about them.
  PQsetNoticeProcessor(
      c_, [](void*, const char*) {}, nullptr);
}

Connection::~Connection() {
  if (c_ != nullptr) PQfinish(c_);
}

bool Connection::reconnect() {
  if (ok()) return true;
  given_up_ = false;
  PQreset(c_);
  return ok();
}

Result Connection::run(const char* sql, const Params& params, const char* what) {
  const std::vector<const char*> values = params.values();
  Result r(PQexecParams(c_, sql, params.size(), params.types(), values.data(), params.lengths(),
                        params.formats(), 1));
  const ExecStatusType status = PQresultStatus(r.get());
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return r;
  const char* text = r.get() != nullptr ? PQresultErrorMessage(r.get()) : PQerrorMessage(c_);
  throw StoreError(where_ + ": " + what + ": " + message_of(text));
}

std::vector<Result> Connection::run_together(const std::vector<Statement>& statements,
                                             const char* what) {
  if (PQenterPipelineMode(c_) != 1) {
    throw StoreError(where_ + ": " + what + ": " + message_of(PQerrorMessage(c_)));
  }
  std::string error;
  std::size_t sent = 0;
  for (const Statement& s : statements) {
    const std::vector<const char*> values = s.params.values();
    if (PQsendQueryParams(c_, s.sql.c_str(), s.params.size(), s.params.types(), values.data(),
                          s.params.lengths(), s.params.formats(), 1) != 1) {
      error = message_of(PQerrorMessage(c_));
      break;
    }
    ++sent;
  }
  std::vector<Result> results;
  if (error.empty() && PQpipelineSync(c_) != 1) error = message_of(PQerrorMessage(c_));
  if (error.empty()) {
    // Each statement's result, then a null; after an error the rest are PGRES_PIPELINE_ABORTED;
    // then the sync point's own result.
    for (std::size_t i = 0; i < sent; ++i) {
      Result r(PQgetResult(c_));
      if (r.get() == nullptr) {
        error = message_of(PQerrorMessage(c_));  // the connection is gone
        break;
      }
      const ExecStatusType status = PQresultStatus(r.get());
      if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && error.empty()) {
        error = message_of(status == PGRES_PIPELINE_ABORTED ? "aborted"
                                                            : PQresultErrorMessage(r.get()));
      }
      while (PGresult* rest = PQgetResult(c_))
        PQclear(rest);
      results.push_back(std::move(r));
    }
    if (results.size() == sent) {
      Result sync(PQgetResult(c_));
      if (PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC && error.empty()) {
        error = message_of(PQerrorMessage(c_));
      }
    }
  }
  // Fails when results are left unread. A lost connection leaves them: the next use reconnects,
  // and a new connection is not in pipeline mode. A statement libpq refused to send (over 65,535
  // parameters) leaves the ones before it queued on a live connection, in a transaction with no
  // sync point yet: a sync now would commit them without the rest. The connection is given up
  // instead (the server rolls the transaction back when it goes) and the next use reconnects.
  if (PQexitPipelineMode(c_) != 1 && ok()) given_up_ = true;
  if (!error.empty()) throw StoreError(where_ + ": " + what + ": " + error);
  return results;
}

void Connection::run_script(const char* sql, const char* what) {
  Result r(PQexec(c_, sql));
  if (PQresultStatus(r.get()) == PGRES_COMMAND_OK) return;
  const char* text = r.get() != nullptr ? PQresultErrorMessage(r.get()) : PQerrorMessage(c_);
  throw StoreError(where_ + ": " + what + ": " + message_of(text));
}

void Connection::run_quietly(const char* sql) {
  PQclear(PQexec(c_, sql));
}

}  // namespace uasyncd::server::pg
