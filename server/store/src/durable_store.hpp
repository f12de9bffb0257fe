// What a durable backend is made of, whatever the database: a store written by one thread with
// group commits (DurableStore: the SQLite file, or a PostgreSQL connection) and a pool of readers
// for the HTTP threads (StoreReaders). durable_backend.cpp builds the JobBackend from them, and
// group_writer.cpp drives the store's writes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "uasyncd/store/job_backend.hpp"
#include "uasyncd/store/store_error.hpp"

namespace uasyncd::server {

// One group commit: rows to insert (with their spec) or update, and ids to delete.
struct WriteBatch {
  std::vector<JobRow> inserts;
  std::vector<JobRow> updates;
  std::vector<std::uint64_t> deletes;
  // Settings written or deleted, in order, after the jobs' rows.
  std::vector<SettingRow> settings;
  // The highest id handed out so far, kept when a batch deletes, so ids are never reused.
  std::uint64_t max_id = 0;
  // The heartbeat: the daemon was alive at this wall time (meta 'alive_ms'); nullopt: not now.
  std::optional<std::int64_t> alive_ms;
  bool empty() const {
    return inserts.empty() && updates.empty() && deletes.empty() && settings.empty() && !alive_ms;
  }
};

// What retention may remove in one transaction: the `excess` longest-finished rows, and rows
// that finished before `cutoff_ms`; at most `limit` rows in all.
struct RetentionStep {
  std::size_t excess = 0;
  std::optional<std::int64_t> cutoff_ms;
  std::size_t limit = 1000;
};

// Threads: opened by the starting thread, then used by one thread at a time (the writer's).
class DurableStore {
 public:
  virtual ~DurableStore() = default;

  // Where the jobs are, for messages: a file's path, or a database's name and host (never a
  // password).
  virtual const std::string& where() const = 0;

  struct Written {
    std::size_t fenced = 0;           // updates dropped: the row was at a later attempt
    std::vector<RemovedJob> removed;  // by retention
  };
  // Applies the batch, then the retention step, in one transaction; throws StoreError (rolled
  // back: nothing of it applied) on failure. A store whose connection broke reconnects here.
  virtual Written write(const WriteBatch& batch, const RetentionStep& retention) = 0;

  // At start only (before the writer thread runs):
  // The highest id ever handed out (0 for a new store): stored or deleted.
  virtual std::uint64_t max_id() = 0;
  // Rows per state (one scan).
  virtual StateCounts count_states() = 0;
  // Scheduled, pending and running rows, oldest first.
  virtual std::vector<JobRow> load_live() = 0;
  // The last heartbeat stored (WriteBatch::alive_ms), nullopt if none ever was.
  virtual std::optional<std::int64_t> alive_ms() = 0;
  // Every setting, ordered by kind and name.
  virtual std::vector<SettingRow> load_settings() = 0;

  // A database several daemons share (cluster mode): ids come in blocks (reserve_ids), live rows
  // are claimed (pg_cluster.hpp), not loaded, and the counts per state are read, not kept.
  virtual bool shared() const { return false; }
  // Reserves `n` ids no daemon sharing the store was or will be given; returns the last of them
  // (the block is last - n + 1 .. last). Any thread: it has a connection of its own.
  virtual std::uint64_t reserve_ids(std::uint64_t /*n*/) { return 0; }
};

// Reads for the HTTP threads, through connections of their own. Threads: any; thread-safe.
// Each throws StoreError when the store cannot be read.
class StoreReaders {
 public:
  virtual ~StoreReaders() = default;
  virtual std::optional<JobRow> get(std::uint64_t id) = 0;
  // `counts`: the jobs per state the backend keeps (a list's total by state needs no count).
  virtual ListPage list(const ListQuery& query, const StateCounts& counts) = 0;
  virtual std::optional<std::uint64_t> find_by_key(const std::string& idempotency_key) = 0;
  // Throws StoreError when the store does not answer (a database is asked; a file is not).
  virtual void ping() {}
  // Rows per state, counted by the database (a shared store, whose rows other daemons write
  // too); nullopt: the backend's own tally is exact.
  virtual std::optional<StateCounts> count_states() { return std::nullopt; }
};

}  // namespace uasyncd::server
