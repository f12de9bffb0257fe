// The scheduled jobs' times: a min-heap of (loop time due, id), 16 bytes each, so 100,000 delayed
// tasks cost about 2 MB here rather than a job object and a sleeping task each. Entries are never
// removed early: one whose job was cancelled or deleted meanwhile is skipped when it comes up.
//
// Threads: the loop thread's, as JobService's, which owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace uasyncd::server {

class DueQueue {
 public:
  struct Due {
    std::int64_t at_ms = 0;  // the loop's clock (uasyncio::ticks_ms)
    std::uint64_t id = 0;
  };

  void push(Due due);
  // The earliest; the queue must not be empty.
  const Due& top() const { return heap_.front(); }
  void pop();
  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  void clear();

 private:
  std::vector<Due> heap_;
};

// A set of job ids as one bit each from the lowest id held: ids are handed out in increasing
// order, so the ones scheduled at once lie close together.
class IdBitmap {
 public:
  void insert(std::uint64_t id);
  void erase(std::uint64_t id);
  bool contains(std::uint64_t id) const;
  std::size_t size() const { return count_; }
  void clear();

 private:
  std::uint64_t base_ = 0;  // the id of bit 0 of words_[0] (a multiple of 64)
  std::vector<std::uint64_t> words_;
  std::size_t count_ = 0;
};

}  // namespace uasyncd::server
