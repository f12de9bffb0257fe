// The thread that writes jobs to a DurableStore (the SQLite file, PostgreSQL) with group commits:
// the loop thread only queues rows (never waits on the disk or the network), the writer commits
// whatever has queued up in one transaction,
// and a thread that needs a write committed (an HTTP thread answering a submit) waits for its
// ticket. Retention runs here too, in bounded steps inside the same transactions, and once a
// second when idle, so no thread ever stalls on a long delete.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "durable_store.hpp"
#include "state_tally.hpp"

namespace uasyncd::server {

class GroupWriter {
 public:
  // Starts the writer thread, which owns `store` from now on. `max_id`: already handed out.
  // `tally` is kept right when retention removes rows; `on_removed` is told of them.
  GroupWriter(std::unique_ptr<DurableStore> store, std::uint64_t max_id, Retention retention,
              StateTally& tally, std::function<void(std::span<const RemovedJob>)> on_removed);
  ~GroupWriter();  // stop()

  // Any thread. Each returns the write's ticket.
  WriteTicket insert(JobRow row);
  // Queued together: they are committed in one transaction (all or none survive a crash); the
  // ticket is the last one's.
  WriteTicket insert_all(std::vector<JobRow> rows);
  WriteTicket update(JobRow row);
  WriteTicket erase(std::uint64_t id);
  WriteTicket put_setting(SettingRow row);
  // The job's insert and the schedule's row, queued together: one transaction.
  WriteTicket insert_fired(JobRow job, SettingRow schedule);
  // The heartbeat: the next commit stores the wall time it is made at as meta 'alive_ms'.
  void mark_alive();

  bool committed(WriteTicket ticket) const {
    return ticket <= committed_.load(std::memory_order_acquire);
  }
  // The last ticket committed, and the last one a commit under way (or done) holds: when they
  // differ, a transaction may be visible in the store before committed() says so. Any thread.
  WriteTicket committed_ticket() const { return committed_.load(std::memory_order_seq_cst); }
  WriteTicket committing_ticket() const { return committing_.load(std::memory_order_seq_cst); }
  // True once `ticket` (and every write before it) is committed; false when `timeout` passed
  // first or the store is failing.
  bool wait_committed(WriteTicket ticket, std::chrono::milliseconds timeout);
  // Commits what is queued, then ends the thread. Later writes are dropped.
  void stop();
  BackendStats stats() const;
  // The last commit's error while commits fail; nullopt once one succeeds.
  std::optional<std::string> problem() const;

 private:
  enum class Kind { insert, update, erase, alive, setting };
  struct Op {
    Kind kind;
    JobRow row;
    SettingRow setting;  // Kind::setting
  };
  WriteTicket push(Kind kind, JobRow row);
  void run();
  RetentionStep retention_step() const;
  // Merges a run of ops into one batch: a job inserted and changed in it is written once.
  // `fenced`: writes dropped because the batch already holds a later attempt of the job.
  static WriteBatch coalesce(std::vector<Op>& ops, std::uint64_t& inserted_max,
                             std::size_t& fenced);

  std::unique_ptr<DurableStore> store_;
  Retention retention_;
  StateTally& tally_;
  std::function<void(std::span<const RemovedJob>)> on_removed_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::vector<Op> queue_;
  WriteTicket pushed_ = 0;  // tickets handed out
  bool stopping_ = false;
  bool closed_ = false;  // the thread has ended: nothing more would be written
  std::uint64_t max_id_ = 0;

  std::atomic<WriteTicket> committed_{0};
  std::atomic<WriteTicket> committing_{0};  // set before a transaction starts
  // Its own mutex: waking waiting threads must not contend with the loop thread's pushes.
  mutable std::mutex durable_mu_;
  std::condition_variable durable_cv_;
  bool failing_ = false;
  std::string problem_;  // the error of the last failed commit, while failing_
  BackendStats stats_;
  std::thread thread_;
};

}  // namespace uasyncd::server
