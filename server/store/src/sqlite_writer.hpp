// The thread that writes task records to the store with group commits: the loop thread only
// queues snapshots (never waits on the disk), the writer commits whatever has queued up in one
// transaction, and an HTTP thread that submitted waits for its task's insert to be committed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "uasyncd/server/task_journal.hpp"
#include "uasyncd/server/task_store.hpp"

namespace uasyncd::server {

class DurableWriter final : public TaskJournal {
 public:
  // Starts the writer thread, which owns `store` from now on. `max_seq`: already handed out.
  DurableWriter(std::unique_ptr<TaskStore> store, std::uint64_t max_seq);
  ~DurableWriter() override;  // stop()

  void submitted(const api::TaskRecord& task) override;
  void changed(const api::TaskRecord& task, bool with_output = false) override;
  void erased(std::uint64_t seq) override;

  // Any thread: true once task `seq` (and every task submitted before it) is committed; false
  // when `timeout` passed first or the store is failing.
  bool wait_durable(std::uint64_t seq, std::chrono::milliseconds timeout);
  // Commits what is queued, then ends the thread. Later journal calls are dropped.
  void stop();

  struct Stats {
    std::uint64_t commits = 0;
    std::uint64_t rows = 0;
  };
  Stats stats() const;

 private:
  enum class Kind { insert, update, erase };
  struct Op {
    Kind kind;
    StoredTask row;
  };
  void push(Kind kind, StoredTask row);
  void run();
  // Merges a run of ops into one batch: a task inserted and changed in it is written once.
  static StoreBatch coalesce(std::vector<Op>& ops, std::uint64_t& inserted_max);

  std::unique_ptr<TaskStore> store_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::vector<Op> queue_;
  bool stopping_ = false;
  bool closed_ = false;  // the thread has ended: nothing more would be written
  std::uint64_t max_seq_ = 0;

  // Its own mutex: waking HTTP threads must not contend with the loop thread's pushes.
  mutable std::mutex durable_mu_;
  std::condition_variable durable_cv_;
  std::uint64_t durable_seq_ = 0;  // every insert up to this seq is committed
  bool failing_ = false;
  Stats stats_;
  std::thread thread_;
};

}  // namespace uasyncd::server
