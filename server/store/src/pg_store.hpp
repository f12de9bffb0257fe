// The PostgreSQL store: the jobs' table in a database several programs may share (its tables
// are prefixed uasyncd_), written through one connection by the writer thread. Opened, migrated
// and locked by the starting thread; then used by the writer's thread only. Readers have
// connections of their own (pg_readers.hpp).
//
// Shared by every daemon on the database (cluster mode): live rows carry their owner (the
// instance holding them, pg_cluster.hpp) and every update of one is fenced by it; ids are
// reserved in blocks through a connection of their own.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "durable_store.hpp"
#include "pg_conn.hpp"

namespace uasyncd::server {

// The columns a full row is read with, in order (see pg_read_row), and those a list reads. The
// last is the row's exec outputs from uasyncd_task_outputs, by step, in one value: per output its
// step (8 bytes, big-endian), its body's length (4 bytes) and its body. A statement that reads
// them names the table uasyncd_tasks, unaliased.
inline constexpr const char* kPgRowColumns =
    "seq, name, kind, state, attempts, created_ms, started_ms, finished_ms, result, error_type, "
    "error_message, run_at_ms, spec, steps, idempotency_key, interrupted_ms, owner, "
    "(SELECT string_agg(int8send(o.step) || int4send(length(o.body)) || o.body, ''::bytea "
    "ORDER BY o.step) FROM uasyncd_task_outputs o WHERE o.seq = uasyncd_tasks.seq)";
inline constexpr const char* kPgSummaryColumns =
    "seq, name, kind, state, attempts, created_ms, started_ms, finished_ms, result, error_type, "
    "error_message, run_at_ms";
JobRow pg_read_row(const pg::Result& r, int row);
JobSummary pg_read_summary(const pg::Result& r, int row);

class PgStore final : public DurableStore {
 public:
  // The schema this code writes; older ones are migrated at open (pg_schema.cpp).
  static constexpr int kSchemaVersion = 4;

  // Connects, takes the daemon's lock, creates or migrates the schema (under a transaction-level
  // lock, so daemons starting together do not race) and checks a write. `full_sync` false:
  // synchronous_commit off (a crash of the server may lose the last commits, never
  // consistency). Throws StoreError (without the password) on any failure.
  // `instance`: the owner written on live rows and the fence of updates (null: unowned rows).
  static std::unique_ptr<PgStore> open(const std::string& url, bool full_sync,
                                       const std::atomic<std::int64_t>* instance = nullptr);

  const std::string& where() const override { return conn_.where(); }
  Written write(const WriteBatch& batch, const RetentionStep& retention) override;
  std::uint64_t max_id() override;
  StateCounts count_states() override;
  std::vector<JobRow> load_live() override;
  std::optional<std::int64_t> alive_ms() override;
  std::vector<SettingRow> load_settings() override;
  bool shared() const override { return true; }
  std::uint64_t reserve_ids(std::uint64_t n) override;
  int opened_version() const { return opened_version_; }

 private:
  PgStore(const std::string& url, bool full_sync, const std::atomic<std::int64_t>* instance);
  // What a new session needs: the commit mode.
  void start_session();
  // The owner to write on a row (NULL when it is final or released), and the fence of updates.
  void add_owner(pg::Params& p, const JobRow& row) const;
  void add_fence(pg::Params& p) const;
  // Tells idle instances that tasks were released (NOTIFY uasyncd_wake), after a commit.
  void wake_claimers();
  void reconnect_if_broken();
  Written write_once(const WriteBatch& batch, const RetentionStep& retention);

  pg::Connection conn_;
  bool full_sync_;
  const std::atomic<std::int64_t>* instance_;
  // reserve_ids: any thread, one at a time.
  std::mutex ids_mu_;
  std::unique_ptr<pg::Connection> ids_conn_;
  std::string url_;
  int opened_version_ = 0;
};

}  // namespace uasyncd::server
