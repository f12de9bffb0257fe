// Sleeping tasks ordered by (deadline, arrival): a binary min-heap that stores its ordering keys
// next to the task pointer (no pointer chasing while sifting) and records each task's slot in
// the task, so a cancelled sleeper leaves at once (§6.4).
//
// Most sleeps arrive in deadline order (the same delay, asked for one after another), and a heap
// would still sift each of them through log n levels on the way out. So an arrival whose key is
// no smaller than the last one in a sorted FIFO "lane" joins that lane instead (O(1) in and out);
// only out-of-order arrivals go to the heap. The earliest sleeper is the smaller of the two
// fronts, so the order is exactly the single heap's. A cancelled lane entry becomes a hole that
// is skipped (and compacted away).
#pragma once

#include <cstdint>
#include <vector>

#include "uasyncio/detail/task_header.hpp"

namespace uasyncio::detail {

class TimerHeap {
 public:
  // Asked on every task switch, so it reads one counter rather than both containers.
  bool empty() const { return count_ == 0; }
  std::size_t size() const { return count_; }
  std::int64_t top_key() const { return front().key; }
  TaskHeader* top() const { return front().task; }

  void push(TaskHeader* t, std::int64_t key) {
    t->in_heap = true;
    ++count_;
    const Entry e{key, next_seq_++, t};
    if (lane_live_ == 0 || key >= lane_.back().key) {
      if (lane_live_ == 0) {
        lane_.clear();
        lane_head_ = 0;
      }
      t->heap_index = kLaneBit | static_cast<std::uint32_t>(lane_.size());
      lane_.push_back(e);
      ++lane_live_;
      return;
    }
    heap_.push_back(e);
    sift_up(heap_.size() - 1);
  }

  TaskHeader* pop() {
    if (lane_first()) {
      TaskHeader* t = lane_[lane_head_].task;
      t->in_heap = false;
      lane_[lane_head_].task = nullptr;
      ++lane_head_;
      --lane_live_;
      --count_;
      lane_settle();
      return t;
    }
    TaskHeader* t = heap_.front().task;
    remove_at(0);
    return t;
  }

  void remove(TaskHeader* t) {
    if (t->heap_index & kLaneBit) {
      t->in_heap = false;
      lane_[t->heap_index & ~kLaneBit].task = nullptr;
      --lane_live_;
      --count_;
      lane_settle();
    } else {
      remove_at(t->heap_index);
    }
  }
  std::int64_t key_of(const TaskHeader* t) const {
    if (t->heap_index & kLaneBit) return lane_[t->heap_index & ~kLaneBit].key;
    return heap_[t->heap_index].key;
  }

  template <class F>
  void for_each(F&& f) const {
    for (std::size_t i = lane_head_; i < lane_.size(); ++i) {
      if (lane_[i].task != nullptr) f(lane_[i].task);
    }
    for (const Entry& e : heap_)
      f(e.task);
  }
  void clear() {
    for_each([](TaskHeader* t) { t->in_heap = false; });
    heap_.clear();
    lane_.clear();
    lane_head_ = 0;
    lane_live_ = 0;
    count_ = 0;
  }

 private:
  static constexpr std::uint32_t kLaneBit = 0x8000'0000u;

  struct Entry {
    std::int64_t key;
    std::uint64_t seq;
    TaskHeader* task;
    bool before(const Entry& o) const { return key < o.key || (key == o.key && seq < o.seq); }
  };

  // True when the earliest sleeper is the lane's front (requires !empty()).
  bool lane_first() const {
    if (lane_live_ == 0) return false;
    return heap_.empty() || lane_[lane_head_].before(heap_.front());
  }
  const Entry& front() const { return lane_first() ? lane_[lane_head_] : heap_.front(); }

  // Skips the holes at the lane's front, and keeps the lane from growing without bound while it
  // never drains (or while a long sleeper at its front holds many cancelled ones behind it):
  // dead entries are dropped once they are half of it.
  void lane_settle() {
    if (lane_live_ == 0) {
      lane_.clear();
      lane_head_ = 0;
      return;
    }
    while (lane_[lane_head_].task == nullptr)
      ++lane_head_;
    if (lane_.size() - lane_live_ >= 1024 && lane_.size() >= 2 * lane_live_) {
      std::size_t out = 0;
      for (std::size_t i = lane_head_; i < lane_.size(); ++i) {
        if (lane_[i].task == nullptr) continue;
        lane_[out] = lane_[i];
        lane_[out].task->heap_index = kLaneBit | static_cast<std::uint32_t>(out);
        ++out;
      }
      lane_.resize(out);
      lane_head_ = 0;
    }
  }

  void place(std::size_t i, const Entry& e) {
    heap_[i] = e;
    e.task->heap_index = static_cast<std::uint32_t>(i);
  }

  void sift_up(std::size_t i) {
    Entry e = heap_[i];
    while (i > 0) {
      std::size_t parent = (i - 1) / 2;
      if (!e.before(heap_[parent])) break;
      place(i, heap_[parent]);
      i = parent;
    }
    place(i, e);
  }

  void sift_down(std::size_t i) {
    Entry e = heap_[i];
    const std::size_t n = heap_.size();
    for (;;) {
      std::size_t child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && heap_[child + 1].before(heap_[child])) ++child;
      if (!heap_[child].before(e)) break;
      place(i, heap_[child]);
      i = child;
    }
    place(i, e);
  }

  void remove_at(std::size_t i) {
    heap_[i].task->in_heap = false;
    --count_;
    Entry last = heap_.back();
    heap_.pop_back();
    if (i == heap_.size()) return;
    place(i, last);
    if (i > 0 && last.before(heap_[(i - 1) / 2])) {
      sift_up(i);
    } else {
      sift_down(i);
    }
  }

  std::vector<Entry> heap_;
  // Sorted by (key, seq); [lane_head_, size) may hold holes (task == nullptr).
  std::vector<Entry> lane_;
  std::size_t lane_head_ = 0;
  std::size_t lane_live_ = 0;
  std::size_t count_ = 0;  // heap_.size() + lane_live_
  std::uint64_t next_seq_ = 0;
};

}  // namespace uasyncio::detail
