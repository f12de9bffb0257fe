#include "pg_readers.hpp"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "pg_store.hpp"
#include "uasyncd/store/list_pager.hpp"

namespace uasyncd::server {
namespace {

// $1 and $2 bound the ids; $3 state, $4 name, $5 the folded part of a name, $6 the limit: every
// statement gets all six (typed, so the unused ones need no context).
std::string where_sql(const ListQuery& q) {
  std::string sql = " FROM uasyncd_tasks WHERE seq > $1 AND seq < $2";
  if (q.state) sql += " AND state = $3";
  if (q.name) sql += " AND name = $4";
  if (q.name_contains) sql += " AND position($5 in name_folded) > 0";
  return sql;
}

std::int64_t bound(std::uint64_t id) {
  return static_cast<std::int64_t>(std::min<std::uint64_t>(id, INT64_MAX));
}

pg::Params list_params(const ListQuery& q, IdRange range, std::uint64_t limit) {
  pg::Params p;
  p.int8(bound(range.above)).int8(bound(range.below));
  p.text(q.state ? state_name(*q.state) : "");
  p.bytes(q.name ? *q.name : "");
  p.bytes(q.name_contains ? fold_ascii(*q.name_contains) : "");
  p.int8(bound(limit));
  return p;
}

}  // namespace

// A connection taken from the pool for one query, reopened first if it broke.
class PgReaders::Lease {
 public:
  explicit Lease(PgReaders& pool) : pool_(pool) {
    std::unique_lock lock(pool_.mu_);
    pool_.cv_.wait(lock, [&] { return !pool_.free_.empty(); });
    c_ = pool_.free_.back();
    pool_.free_.pop_back();
    lock.unlock();
    if (!c_->reconnect()) {
      give_back();
      throw StoreError(c_->where() + ": the connection is lost");
    }
  }
  ~Lease() {
    if (c_ != nullptr) give_back();
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  pg::Connection* operator->() const { return c_; }
  pg::Connection& operator*() const { return *c_; }

 private:
  void give_back() {
    {
      std::lock_guard lock(pool_.mu_);
      pool_.free_.push_back(c_);
    }
    pool_.cv_.notify_one();
    c_ = nullptr;
  }
  PgReaders& pool_;
  pg::Connection* c_;
};

PgReaders::PgReaders(const std::string& url, std::size_t count) {
  for (std::size_t i = 0; i < std::max<std::size_t>(count, 1); ++i) {
    all_.push_back(std::make_unique<pg::Connection>(url));
    free_.push_back(all_.back().get());
  }
}

PgReaders::~PgReaders() = default;

template <class Read>
auto PgReaders::with_connection(Read&& read) {
  Lease c(*this);
  try {
    return read(*c);
  } catch (const StoreError&) {
    if (c->ok() || !c->reconnect()) throw;
  }
  return read(*c);
}

std::optional<JobRow> PgReaders::get(std::uint64_t id) {
  return with_connection([&](pg::Connection& c) -> std::optional<JobRow> {
    static const std::string sql =
        std::string("SELECT ") + kPgRowColumns + " FROM uasyncd_tasks WHERE seq = $1";
    const pg::Result r = c.run(sql.c_str(), pg::Params().int8(bound(id)), "cannot read a task");
    if (r.rows() == 0) return std::nullopt;
    return pg_read_row(r, 0);
  });
}

std::optional<std::uint64_t> PgReaders::find_by_key(const std::string& key) {
  return with_connection([&](pg::Connection& c) -> std::optional<std::uint64_t> {
    const pg::Result r = c.run("SELECT seq FROM uasyncd_tasks WHERE idempotency_key = $1",
                               pg::Params().bytes(key), "cannot look up an idempotency key");
    if (r.rows() == 0) return std::nullopt;
    return static_cast<std::uint64_t>(r.integer(0, 0));
  });
}

void PgReaders::ping() {
  with_connection([](pg::Connection& c) { c.run("SELECT 1", "does not answer"); });
}

std::optional<StateCounts> PgReaders::count_states() {
  return with_connection([](pg::Connection& c) {
    const pg::Result r =
        c.run("SELECT state, count(*) FROM uasyncd_tasks GROUP BY state", "cannot count");
    StateCounts counts{};
    for (int i = 0; i < r.rows(); ++i) {
      const std::optional<JobState> state = parse_state(r.bytes(i, 0));
      if (state)
        counts[static_cast<std::size_t>(*state)] += static_cast<std::uint64_t>(r.integer(i, 1));
    }
    return std::optional<StateCounts>(counts);
  });
}

// A list's rows and counts through one connection, in one read-only snapshot.
class PgReaders::Source final : public ListSource {
 public:
  Source(pg::Connection& c, const StateCounts& counts) : c_(c), counts_(counts) {
    c_.run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "cannot read the tasks");
  }
  // A read-only transaction changes nothing: its end cannot fail in a way that matters.
  ~Source() override { c_.run_quietly("COMMIT"); }
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  std::vector<JobSummary> scan(const ListQuery& q, IdRange range, bool newest_first,
                               std::size_t limit) override {
    const std::string sql = std::string("SELECT ") + kPgSummaryColumns + where_sql(q) +
                            " ORDER BY seq " + (newest_first ? "DESC" : "ASC") + " LIMIT $6";
    const pg::Result r = c_.run(sql.c_str(), list_params(q, range, limit), "cannot list the tasks");
    std::vector<JobSummary> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i)
      out.push_back(pg_read_summary(r, i));
    return out;
  }

  std::uint64_t count(const ListQuery& q, IdRange range, std::uint64_t cap) override {
    const std::string sql = "SELECT count(*) FROM (SELECT 1" + where_sql(q) + " LIMIT $6) AS m";
    const pg::Result r =
        c_.run(sql.c_str(), list_params(q, range, cap + 1), "cannot count the tasks");
    return static_cast<std::uint64_t>(r.integer(0, 0));
  }

  std::optional<std::uint64_t> kept_count(const ListQuery& q) override {
    return count_from_states(q, counts_);
  }

 private:
  pg::Connection& c_;
  const StateCounts& counts_;
};

ListPage PgReaders::list(const ListQuery& q, const StateCounts& counts) {
  return with_connection([&](pg::Connection& c) {
    Source source(c, counts);
    return list_page(q, source);
  });
}

}  // namespace uasyncd::server
