// The tasks that are due now, in FIFO order. MicroPython keeps one heap keyed by wake-up time;
// tasks made ready "now" always arrive with a key no smaller than the last one, so a FIFO
// (linked through the tasks themselves) holds them in key order without a heap's cost. The keys
// are kept as runs of equal values (the key, and the push count at which it starts), so the
// queue stores no key per task, and push and pop touch the runs only when the key changes: the
// front's run is looked up only when asked for (when a timer competes with the queue).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "uasyncio/detail/task_header.hpp"

namespace uasyncio::detail {

class ReadyQueue {
 public:
  bool empty() const { return head_ == nullptr; }
  // True when `t` is the one and only queued task.
  bool holds_only(const TaskHeader* t) const { return head_ == t && tail_ == t; }
  std::int64_t front_key() {
    while (run_head_ + 1 < nruns_ && runs_[run_head_ + 1].first <= popped_)
      ++run_head_;
    return runs_[run_head_].key;
  }
  std::int64_t back_key() const { return back_key_; }
  std::size_t size() const { return static_cast<std::size_t>(pushed_ - popped_); }

  void push(TaskHeader* t, std::int64_t key) {
    t->next_ready = nullptr;
    if (head_ == nullptr) {
      head_ = t;
      // Every earlier run is consumed, so the last one (key back_key_) may as well go on; only a
      // new key starts the runs afresh.
      if (key != back_key_) restart_runs(key);
    } else {
      tail_->next_ready = t;
      if (key != back_key_) new_run(key);
    }
    tail_ = t;
    ++pushed_;
  }

  TaskHeader* pop() {
    TaskHeader* t = head_;
    head_ = t->next_ready;
    ++popped_;
    if (head_ == nullptr) tail_ = nullptr;
    return t;
  }

 private:
  struct Run {
    std::uint64_t first;  // push count of the run's first task
    std::int64_t key;
  };

  void restart_runs(std::int64_t key) {
    runs_[0] = {pushed_, key};
    nruns_ = 1;
    run_head_ = 0;
    back_key_ = key;
  }

  [[gnu::noinline]] void new_run(std::int64_t key) {
    back_key_ = key;
    // A queue that never drains must not keep its consumed runs forever.
    if (nruns_ >= 1024) {
      front_key();
      if (2 * run_head_ >= nruns_) {
        std::copy(runs_.begin() + static_cast<std::ptrdiff_t>(run_head_),
                  runs_.begin() + static_cast<std::ptrdiff_t>(nruns_), runs_.begin());
        nruns_ -= run_head_;
        run_head_ = 0;
      }
    }
    if (nruns_ == runs_.size()) {
      runs_.push_back({pushed_, key});
    } else {
      runs_[nruns_] = {pushed_, key};
    }
    ++nruns_;
  }

  TaskHeader* head_ = nullptr;
  TaskHeader* tail_ = nullptr;
  std::uint64_t pushed_ = 0;
  std::uint64_t popped_ = 0;
  std::int64_t back_key_ = 0;
  std::vector<Run> runs_ = std::vector<Run>(1);  // [0, nruns_) in use; never shrinks
  std::size_t nruns_ = 1;                        // runs_[0] = {0, back_key_}
  std::size_t run_head_ = 0;
};

}  // namespace uasyncio::detail
