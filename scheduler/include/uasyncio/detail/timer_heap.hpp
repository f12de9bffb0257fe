// Sleeping tasks ordered by (deadline, arrival): a binary min-heap that stores its ordering keys
// next to the task pointer (no pointer chasing while sifting) and records each task's slot in
// the task, so a cancelled sleeper leaves the heap at once (§6.4).
#pragma once

#include <cstdint>
#include <vector>

#include "uasyncio/detail/task_header.hpp"

namespace uasyncio::detail {

class TimerHeap {
 public:
  bool empty() const { return entries_.empty(); }
  std::size_t size() const { return entries_.size(); }
  std::int64_t top_key() const { return entries_.front().key; }
  TaskHeader* top() const { return entries_.front().task; }

  void push(TaskHeader* t, std::int64_t key) {
    t->in_heap = true;
    entries_.push_back({key, next_seq_++, t});
    sift_up(entries_.size() - 1);
  }

  TaskHeader* pop() {
    TaskHeader* t = entries_.front().task;
    remove_at(0);
    return t;
  }

  void remove(TaskHeader* t) { remove_at(t->heap_index); }
  std::int64_t key_of(const TaskHeader* t) const { return entries_[t->heap_index].key; }

  template <class F>
  void for_each(F&& f) const {
    for (const Entry& e : entries_) f(e.task);
  }
  void clear() {
    for (Entry& e : entries_) e.task->in_heap = false;
    entries_.clear();
  }

 private:
  struct Entry {
    std::int64_t key;
    std::uint64_t seq;
    TaskHeader* task;
    bool before(const Entry& o) const { return key < o.key || (key == o.key && seq < o.seq); }
  };

  void place(std::size_t i, const Entry& e) {
    entries_[i] = e;
    e.task->heap_index = static_cast<std::uint32_t>(i);
  }

  void sift_up(std::size_t i) {
    Entry e = entries_[i];
    while (i > 0) {
      std::size_t parent = (i - 1) / 2;
      if (!e.before(entries_[parent])) break;
      place(i, entries_[parent]);
      i = parent;
    }
    place(i, e);
  }

  void sift_down(std::size_t i) {
    Entry e = entries_[i];
    const std::size_t n = entries_.size();
    for (;;) {
      std::size_t child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && entries_[child + 1].before(entries_[child])) ++child;
      if (!entries_[child].before(e)) break;
      place(i, entries_[child]);
      i = child;
    }
    place(i, e);
  }

  void remove_at(std::size_t i) {
    entries_[i].task->in_heap = false;
    Entry last = entries_.back();
    entries_.pop_back();
    if (i == entries_.size()) return;
    place(i, last);
    if (i > 0 && last.before(entries_[(i - 1) / 2])) {
      sift_up(i);
    } else {
      sift_down(i);
    }
  }

  std::vector<Entry> entries_;
  std::uint64_t next_seq_ = 0;
};

}  // namespace uasyncio::detail
