// The SQLite file that keeps task records across restarts (C API, one connection). Opened and
// loaded by the starting thread, then written by the durable writer's thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace uasyncd::server {

// Why the store cannot be used; the message names the file.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One task as a row. Text fields hold JSON; empty means absent.
struct StoredTask {
  std::uint64_t seq = 0;
  std::string spec;  // empty in an update: the spec never changes after the insert
  std::string state;
  std::int64_t attempts = 0;
  std::int64_t created_ms = 0;
  std::int64_t started_ms = 0;
  std::int64_t finished_ms = 0;
  std::string result;
  std::optional<std::string> error_type;
  std::string error_message;
  std::string steps;   // per-step states and outcomes; empty in an update: unchanged
  std::string output;  // ended exec steps' output (MessagePack); empty in an update: unchanged
};

// One group commit: rows to insert (with their spec) or update, and seqs to delete.
struct StoreBatch {
  std::vector<StoredTask> inserts;
  std::vector<StoredTask> updates;
  std::vector<std::uint64_t> deletes;
  // The highest seq handed out so far, kept when a batch deletes, so ids are never reused.
  std::uint64_t max_seq = 0;
  bool empty() const { return inserts.empty() && updates.empty() && deletes.empty(); }
};

class TaskStore {
 public:
  static constexpr const char* kFileName = "uasyncd.db";

  // Opens (creating if needed) DIR/uasyncd.db in WAL mode, checks it and takes the exclusive
  // lock. Throws StoreError naming the file on any failure. `full_sync`: synchronous=FULL (every
  // commit fsynced: survives a power cut); else NORMAL (survives a crash of the process).
  static std::unique_ptr<TaskStore> open(const std::string& dir, bool full_sync = true);
  ~TaskStore();
  TaskStore(const TaskStore&) = delete;
  TaskStore& operator=(const TaskStore&) = delete;

  const std::string& path() const { return path_; }
  // Deletes the oldest finished rows (lowest seq) beyond `keep`, in transactions of at most
  // `batch` rows, so that a start does not load rows the retention would drop at once.
  // Returns how many were deleted; throws StoreError.
  std::size_t trim_finished(std::size_t keep, std::size_t batch = 10'000);
  // Every row, by seq.
  std::vector<StoredTask> load();
  // The highest seq ever handed out (0 for a new file): stored or deleted.
  std::uint64_t max_seq();
  // Applies the batch in one transaction; throws StoreError (rolled back) on failure.
  void write(const StoreBatch& batch);

 private:
  TaskStore(sqlite3* db, std::string path);
  void exec(const char* sql);
  sqlite3_stmt* prepare(const char* sql);
  [[noreturn]] void fail(const std::string& what) const;
  void setup(bool existed, bool full_sync);

  sqlite3* db_ = nullptr;
  std::string path_;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* update_ = nullptr;
  sqlite3_stmt* delete_ = nullptr;
  sqlite3_stmt* set_max_seq_ = nullptr;
};

}  // namespace uasyncd::server
