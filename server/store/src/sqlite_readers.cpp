#include "sqlite_readers.hpp"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "uasyncd/store/list_pager.hpp"

namespace uasyncd::server {
namespace {

// Which filters and order a list statement has: one prepared statement per combination.
constexpr unsigned kByState = 1;
constexpr unsigned kByName = 2;
constexpr unsigned kByNamePart = 4;
constexpr unsigned kOldestFirst = 8;

unsigned filter_bits(const ListQuery& q) {
  return (q.state ? kByState : 0U) | (q.name ? kByName : 0U) | (q.name_contains ? kByNamePart : 0U);
}

std::string where_sql(unsigned bits) {
  std::string sql = " FROM tasks WHERE seq > ?1 AND seq < ?2";
  if (bits & kByState) sql += " AND state = ?3";
  if (bits & kByName) sql += " AND name = ?4";
  // SQLite's LIKE folds A-Z only (no ICU here): the rule of ListQuery::name_contains. Twice as
  // fast as instr(lower(name), ?) on 100,000 rows; the part is escaped (like_pattern).
  if (bits & kByNamePart) sql += " AND name LIKE ?5 ESCAPE '\\'";
  return sql;
}

std::string scan_sql(unsigned bits) {
  return std::string("SELECT ") + sqlite::kSummaryColumns + where_sql(bits) + " ORDER BY seq " +
         ((bits & kOldestFirst) ? "ASC" : "DESC") + " LIMIT ?6";
}

std::string count_sql(unsigned bits) {
  return "SELECT count(*) FROM (SELECT 1" + where_sql(bits) + " LIMIT ?6)";
}

// "%part%", with LIKE's own characters in `part` taken literally.
std::string like_pattern(std::string_view part) {
  std::string out = "%";
  for (char c : part) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out + "%";
}

std::int64_t bound(std::uint64_t id) {
  return static_cast<std::int64_t>(std::min<std::uint64_t>(id, INT64_MAX));
}

}  // namespace

struct SqliteReaders::Connection {
  sqlite3* db = nullptr;
  sqlite::Stmt get;
  sqlite::Stmt outputs;
  sqlite::Stmt by_key;
  sqlite::Stmt begin;
  sqlite::Stmt commit;
  sqlite::Stmt scan[16];  // by the k* bits above, each prepared when first used
  sqlite::Stmt count[8];
  ~Connection() {
    get = {};
    outputs = {};
    by_key = {};
    begin = {};
    commit = {};
    for (auto& s : scan)
      s = {};
    for (auto& s : count)
      s = {};
    sqlite3_close_v2(db);
  }
};

// A connection taken from the pool for one query.
class SqliteReaders::Lease {
 public:
  explicit Lease(SqliteReaders& pool) : pool_(pool) {
    std::unique_lock lock(pool_.mu_);
    pool_.cv_.wait(lock, [&] { return !pool_.free_.empty(); });
    c_ = pool_.free_.back();
    pool_.free_.pop_back();
  }
  ~Lease() {
    {
      std::lock_guard lock(pool_.mu_);
      pool_.free_.push_back(c_);
    }
    pool_.cv_.notify_one();
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  Connection* operator->() const { return c_; }
  Connection& operator*() const { return *c_; }

 private:
  SqliteReaders& pool_;
  Connection* c_;
};

SqliteReaders::SqliteReaders(const std::string& path, std::size_t count) : path_(path) {
  for (std::size_t i = 0; i < std::max<std::size_t>(count, 1); ++i) {
    auto c = std::make_unique<Connection>();
    const int rc =
        sqlite3_open_v2(path.c_str(), &c->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) sqlite::fail(c->db, path_, "cannot open a reader of the task database");
    sqlite3_busy_timeout(c->db, 5000);
    // A small page cache per reader: the OS caches the file; the daemon's RSS stays flat however
    // many jobs the file holds.
    sqlite::exec(c->db, path_, "PRAGMA cache_size=-1024");
    c->get = sqlite::Stmt(
        c->db, (std::string("SELECT ") + sqlite::kRowColumns + " FROM tasks WHERE seq = ?").c_str(),
        path_);
    c->outputs = sqlite::Stmt(c->db, sqlite::kOutputsSql, path_);
    c->by_key = sqlite::Stmt(c->db, "SELECT seq FROM tasks WHERE idempotency_key = ?", path_);
    c->begin = sqlite::Stmt(c->db, "BEGIN", path_);
    c->commit = sqlite::Stmt(c->db, "COMMIT", path_);
    free_.push_back(c.get());
    all_.push_back(std::move(c));
  }
}

SqliteReaders::~SqliteReaders() = default;

std::optional<JobRow> SqliteReaders::get(std::uint64_t id) {
  Lease c(*this);
  // The row and its outputs in one read transaction: they see the same commit.
  {
    sqlite::Use begin(c->begin);
    if (sqlite3_step(begin.get()) != SQLITE_DONE) sqlite::fail(c->db, path_, "cannot read a task");
  }
  struct End {
    const sqlite::Stmt& commit;
    ~End() {
      sqlite::Use use(commit);
      (void)sqlite3_step(use.get());  // a read transaction: its end changes nothing
    }
  } end{c->commit};
  std::optional<JobRow> row;
  {
    sqlite::Use use(c->get);
    sqlite3_bind_int64(use.get(), 1, static_cast<std::int64_t>(id));
    const int rc = sqlite3_step(use.get());
    if (rc == SQLITE_ROW) {
      row = sqlite::read_row(use.get());
    } else if (rc != SQLITE_DONE) {
      sqlite::fail(c->db, path_, "cannot read a task");
    }
  }
  if (row) sqlite::read_outputs(c->db, c->outputs, path_, *row);
  return row;
}

std::optional<std::uint64_t> SqliteReaders::find_by_key(const std::string& key) {
  Lease c(*this);
  sqlite::Use use(c->by_key);
  sqlite::bind_text(use.get(), 1, key);
  const int rc = sqlite3_step(use.get());
  if (rc == SQLITE_ROW) return static_cast<std::uint64_t>(sqlite3_column_int64(use.get(), 0));
  if (rc != SQLITE_DONE) sqlite::fail(c->db, path_, "cannot look up an idempotency key");
  return std::nullopt;
}

// A list's rows and counts through one connection, in one read transaction: the page and its
// counts see the same commit.
class SqliteReaders::Source final : public ListSource {
 public:
  Source(SqliteReaders& pool, Connection& c, const ListQuery& q, const StateCounts& counts)
      : pool_(pool), c_(c), counts_(counts) {
    if (q.name_contains) pattern_ = like_pattern(*q.name_contains);
    step_once(c_.begin, "cannot read the tasks");
  }
  // A read transaction changes nothing: its end cannot fail in a way that matters.
  ~Source() override { (void)step_commit(); }
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  std::vector<JobSummary> scan(const ListQuery& q, IdRange range, bool newest_first,
                               std::size_t limit) override {
    const unsigned bits = filter_bits(q) | (newest_first ? 0U : kOldestFirst);
    sqlite::Use use(prepared(c_.scan[bits], scan_sql(bits)));
    bind(use.get(), q, range, limit);
    std::vector<JobSummary> out;
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(use.get())) == SQLITE_ROW)
      out.push_back(sqlite::read_summary(use.get()));
    if (rc != SQLITE_DONE) sqlite::fail(c_.db, pool_.path_, "cannot list the tasks");
    return out;
  }

  std::uint64_t count(const ListQuery& q, IdRange range, std::uint64_t cap) override {
    const unsigned bits = filter_bits(q);
    sqlite::Use use(prepared(c_.count[bits], count_sql(bits)));
    bind(use.get(), q, range, cap + 1);
    if (sqlite3_step(use.get()) != SQLITE_ROW) {
      sqlite::fail(c_.db, pool_.path_, "cannot count the tasks");
    }
    return static_cast<std::uint64_t>(sqlite3_column_int64(use.get(), 0));
  }

  std::optional<std::uint64_t> kept_count(const ListQuery& q) override {
    return count_from_states(q, counts_);
  }

 private:
  const sqlite::Stmt& prepared(sqlite::Stmt& s, const std::string& sql) {
    if (s.get() == nullptr) s = sqlite::Stmt(c_.db, sql.c_str(), pool_.path_);
    return s;
  }

  void bind(sqlite3_stmt* s, const ListQuery& q, IdRange range, std::uint64_t limit) {
    sqlite3_bind_int64(s, 1, bound(range.above));
    sqlite3_bind_int64(s, 2, bound(range.below));
    if (q.state) sqlite3_bind_text(s, 3, state_name(*q.state), -1, SQLITE_STATIC);
    if (q.name) sqlite::bind_text(s, 4, *q.name);
    if (q.name_contains) sqlite::bind_text(s, 5, pattern_);
    sqlite3_bind_int64(s, 6, bound(limit));
  }

  void step_once(const sqlite::Stmt& stmt, const char* what) {
    sqlite::Use use(stmt);
    if (sqlite3_step(use.get()) != SQLITE_DONE) sqlite::fail(c_.db, pool_.path_, what);
  }

  int step_commit() {
    sqlite::Use use(c_.commit);
    return sqlite3_step(use.get());
  }

  SqliteReaders& pool_;
  Connection& c_;
  const StateCounts& counts_;
  std::string pattern_;
};

ListPage SqliteReaders::list(const ListQuery& q, const StateCounts& counts) {
  Lease c(*this);
  Source source(*this, *c, q, counts);
  return list_page(q, source);
}

}  // namespace uasyncd::server
