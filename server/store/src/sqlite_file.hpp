// The SQLite file that keeps jobs across restarts, through its one writing connection: opened,
// checked, locked, migrated and trimmed by the starting thread, then used by the writer's thread
// only. Readers have connections of their own (sqlite_readers.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sqlite_db.hpp"
#include "uasyncd/store/job_backend.hpp"

namespace uasyncd::server {

// One group commit: rows to insert (with their spec) or update, and ids to delete.
struct SqliteBatch {
  std::vector<JobRow> inserts;
  std::vector<JobRow> updates;
  std::vector<std::uint64_t> deletes;
  // The highest id handed out so far, kept when a batch deletes, so ids are never reused.
  std::uint64_t max_id = 0;
  // The heartbeat: the daemon was alive at this wall time (meta 'alive_ms'); nullopt: not now.
  std::optional<std::int64_t> alive_ms;
  bool empty() const { return inserts.empty() && updates.empty() && deletes.empty() && !alive_ms; }
};

// What retention may remove in one transaction: the `excess` longest-finished rows, and rows
// that finished before `cutoff_ms`; at most `limit` rows in all.
struct RetentionStep {
  std::size_t excess = 0;
  std::optional<std::int64_t> cutoff_ms;
  std::size_t limit = 1000;
};

using RemovedRow = RemovedJob;

class SqliteFile {
 public:
  static constexpr const char* kFileName = "uasyncd.db";
  // The schema this code writes; older files are migrated in place (sqlite_schema.cpp).
  static constexpr int kSchemaVersion = 5;

  // Opens (creating if needed) DIR/uasyncd.db in WAL mode, locks it against a second daemon,
  // checks it and migrates it. Throws StoreError naming the file on any failure. `full_sync`:
  // synchronous=FULL (every commit fsynced: survives a power cut); else NORMAL (survives a crash
  // of the process).
  static std::unique_ptr<SqliteFile> open(const std::string& dir, bool full_sync = true);
  ~SqliteFile();
  SqliteFile(const SqliteFile&) = delete;
  SqliteFile& operator=(const SqliteFile&) = delete;

  const std::string& path() const { return path_; }

  struct Written {
    std::size_t fenced = 0;           // updates dropped: the row was at a later attempt
    std::vector<RemovedRow> removed;  // by retention
  };
  // Applies the batch, then the retention step, in one transaction; throws StoreError (rolled
  // back) on failure.
  Written write(const SqliteBatch& batch, const RetentionStep& retention);
  // The highest id ever handed out (0 for a new file): stored or deleted.
  std::uint64_t max_id();
  // Rows per state (one indexed scan: at start only).
  StateCounts count_states();
  // Pending and running rows, oldest first.
  std::vector<JobRow> load_live();
  // The last heartbeat stored (SqliteBatch::alive_ms), nullopt if none ever was.
  std::optional<std::int64_t> alive_ms();
  // The schema version found when the file was opened (before migrating).
  int opened_version() const { return opened_version_; }

 private:
  SqliteFile(sqlite3* db, std::string path, int lock_fd);
  void setup(bool existed, bool full_sync);
  void migrate();
  std::vector<RemovedRow> retain(const RetentionStep& step);
  void run(sqlite3_stmt* s);

  sqlite3* db_ = nullptr;
  std::string path_;
  int lock_fd_ = -1;
  int opened_version_ = 0;
  sqlite::Stmt insert_;
  sqlite::Stmt update_;
  sqlite::Stmt delete_;
  sqlite::Stmt set_max_id_;
  sqlite::Stmt set_alive_;
  sqlite::Stmt trim_oldest_;
  sqlite::Stmt trim_before_;
};

}  // namespace uasyncd::server
