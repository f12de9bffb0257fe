// The tasks that are due now, in FIFO order. MicroPython keeps one heap keyed by wake-up time;
// tasks made ready "now" always arrive with a key no smaller than the last one, so a FIFO
// (linked through the tasks themselves) holds them in key order without a heap's cost. The keys
// are kept as runs of equal values, so the queue stores no key per task.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "uasyncio/detail/task_header.hpp"

namespace uasyncio::detail {

class ReadyQueue {
 public:
  bool empty() const { return head_ == nullptr; }
  std::int64_t front_key() const { return runs_[run_head_].key; }
  std::int64_t back_key() const { return runs_.back().key; }
  std::size_t size() const { return size_; }

  void push(TaskHeader* t, std::int64_t key) {
    t->next_ready = nullptr;
    t->in_ready = true;
    if (head_ == nullptr) {
      head_ = t;
      runs_.clear();
      run_head_ = 0;
    } else {
      tail_->next_ready = t;
    }
    tail_ = t;
    ++size_;
    if (runs_.size() == run_head_ || runs_.back().key != key) {
      runs_.push_back({key, 0});
    }
    ++runs_.back().count;
  }

  TaskHeader* pop() {
    TaskHeader* t = head_;
    head_ = t->next_ready;
    t->in_ready = false;
    --size_;
    if (--runs_[run_head_].count == 0) ++run_head_;
    // A queue that never drains must not keep its consumed runs forever.
    if (run_head_ >= 1024 && 2 * run_head_ >= runs_.size()) {
      runs_.erase(runs_.begin(), runs_.begin() + static_cast<std::ptrdiff_t>(run_head_));
      run_head_ = 0;
    }
    if (head_ == nullptr) {
      tail_ = nullptr;
      runs_.clear();
      run_head_ = 0;
    }
    return t;
  }

 private:
  struct Run {
    std::int64_t key;
    std::uint64_t count;
  };
  TaskHeader* head_ = nullptr;
  TaskHeader* tail_ = nullptr;
  std::size_t size_ = 0;
  std::vector<Run> runs_;
  std::size_t run_head_ = 0;
};

}  // namespace uasyncio::detail
