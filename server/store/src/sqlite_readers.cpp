#include "sqlite_readers.hpp"

#include <cstdint>
#include <utility>

namespace uasyncd::server {
namespace {

std::string list_sql(bool by_state, bool by_name) {
  std::string sql = std::string("SELECT ") + sqlite::kSummaryColumns + " FROM tasks WHERE seq < ?1";
  if (by_state) sql += " AND state = ?2";
  if (by_name) sql += " AND name = ?3";
  return sql + " ORDER BY seq DESC LIMIT ?4";
}

}  // namespace

struct SqliteReaders::Connection {
  sqlite3* db = nullptr;
  sqlite::Stmt get;
  sqlite::Stmt by_key;
  sqlite::Stmt list[2][2];  // [by state][by name]
  ~Connection() {
    get = {};
    by_key = {};
    for (auto& row : list) {
      for (auto& s : row)
        s = {};
    }
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
    c->by_key = sqlite::Stmt(c->db, "SELECT seq FROM tasks WHERE idempotency_key = ?", path_);
    for (int s = 0; s < 2; ++s) {
      for (int n = 0; n < 2; ++n)
        c->list[s][n] = sqlite::Stmt(c->db, list_sql(s == 1, n == 1).c_str(), path_);
    }
    free_.push_back(c.get());
    all_.push_back(std::move(c));
  }
}

SqliteReaders::~SqliteReaders() = default;

std::optional<JobRow> SqliteReaders::get(std::uint64_t id) {
  Lease c(*this);
  sqlite::Use use(c->get);
  sqlite3_bind_int64(use.get(), 1, static_cast<std::int64_t>(id));
  const int rc = sqlite3_step(use.get());
  if (rc == SQLITE_ROW) return sqlite::read_row(use.get());
  if (rc != SQLITE_DONE) sqlite::fail(c->db, path_, "cannot read a task");
  return std::nullopt;
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

ListPage SqliteReaders::list(const ListQuery& q) {
  Lease c(*this);
  sqlite::Use use(c->list[q.state ? 1 : 0][q.name ? 1 : 0]);
  sqlite3_stmt* s = use.get();
  sqlite3_bind_int64(s, 1,
                     q.before
                         ? static_cast<std::int64_t>(std::min<std::uint64_t>(*q.before, INT64_MAX))
                         : INT64_MAX);
  if (q.state) sqlite3_bind_text(s, 2, state_name(*q.state), -1, SQLITE_STATIC);
  if (q.name) sqlite::bind_text(s, 3, *q.name);
  // One more than the page: whether another page follows.
  sqlite3_bind_int64(s, 4, static_cast<std::int64_t>(q.limit) + 1);
  ListPage page;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    if (page.jobs.size() == q.limit) {
      page.next_cursor = page.jobs.back().id;
      break;
    }
    page.jobs.push_back(sqlite::read_summary(s));
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) sqlite::fail(c->db, path_, "cannot list the tasks");
  return page;
}

}  // namespace uasyncd::server
