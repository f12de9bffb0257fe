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

#include "durable_store.hpp"
#include "sqlite_db.hpp"

namespace uasyncd::server {

class SqliteFile final : public DurableStore {
 public:
  static constexpr const char* kFileName = "uasyncd.db";
  // The schema this code writes; older files are migrated in place (sqlite_schema.cpp).
  static constexpr int kSchemaVersion = 7;

  // Opens (creating if needed) DIR/uasyncd.db in WAL mode, locks it against a second daemon,
  // checks it and migrates it. Throws StoreError naming the file on any failure. `full_sync`:
  // synchronous=FULL (every commit fsynced: survives a power cut); else NORMAL (survives a crash
  // of the process).
  static std::unique_ptr<SqliteFile> open(const std::string& dir, bool full_sync = true);
  ~SqliteFile() override;
  SqliteFile(const SqliteFile&) = delete;
  SqliteFile& operator=(const SqliteFile&) = delete;

  const std::string& path() const { return path_; }
  const std::string& where() const override { return path_; }

  Written write(const WriteBatch& batch, const RetentionStep& retention) override;
  std::uint64_t max_id() override;
  StateCounts count_states() override;
  std::vector<JobRow> load_live() override;
  std::optional<std::int64_t> alive_ms() override;
  std::vector<SettingRow> load_settings() override;
  // The schema version found when the file was opened (before migrating).
  int opened_version() const { return opened_version_; }

 private:
  SqliteFile(sqlite3* db, std::string path, int lock_fd);
  void setup(bool existed, bool full_sync);
  void migrate();
  std::vector<RemovedJob> retain(const RetentionStep& step);
  void run(sqlite3_stmt* s);
  // The row's outputs (and its reset), once its insert or update applied.
  void write_outputs(const JobRow& row);

  sqlite3* db_ = nullptr;
  std::string path_;
  int lock_fd_ = -1;
  int opened_version_ = 0;
  sqlite::Stmt insert_;
  sqlite::Stmt update_;
  sqlite::Stmt delete_;
  sqlite::Stmt put_output_;
  sqlite::Stmt reset_outputs_;
  sqlite::Stmt set_max_id_;
  sqlite::Stmt set_alive_;
  sqlite::Stmt put_setting_;
  sqlite::Stmt delete_setting_;
  sqlite::Stmt trim_oldest_;
  sqlite::Stmt trim_before_;
};

}  // namespace uasyncd::server
