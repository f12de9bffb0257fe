// The jobs waiting for a free slot, in the order they start: the highest "priority" first, and
// first in, first out within a priority (a retried job goes to the back of its priority again).
//
// Threads: the loop thread's, as JobService's, which owns it. Entries hold the jobs they name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>

#include "uasyncd/job/job.hpp"

namespace uasyncd::server {

class PendingQueue {
 public:
  struct Entry {
    std::shared_ptr<Job> job;
    std::int64_t queued_at_ms = 0;  // wall clock
  };
  // (-priority, arrival): a map's order is the start order.
  using Order = std::map<std::pair<int, std::uint64_t>, Entry>;
  using iterator = Order::iterator;
  using const_iterator = Order::const_iterator;

  // The job must not be in the queue already.
  void push(std::shared_ptr<Job> job, std::int64_t queued_at_ms);
  // The job's entry, taken out; nullopt when the job is not here.
  std::optional<Entry> take(std::uint64_t id);
  const Entry* find(std::uint64_t id) const;
  // The entry must still hold its job (erase finds the job's id there).
  iterator erase(iterator it);
  // Takes out every entry for which keep_out(entry) holds, in start order.
  template <class Predicate>
  void erase_if(Predicate keep_out) {
    for (auto it = order_.begin(); it != order_.end();) {
      it = keep_out(it->second) ? erase(it) : std::next(it);
    }
  }
  void clear();

  iterator begin() { return order_.begin(); }
  iterator end() { return order_.end(); }
  const_iterator begin() const { return order_.begin(); }
  const_iterator end() const { return order_.end(); }
  std::size_t size() const { return order_.size(); }
  bool empty() const { return order_.empty(); }

 private:
  Order order_;
  std::unordered_map<std::uint64_t, Order::key_type> key_of_;  // job id -> its place
  std::uint64_t arrivals_ = 0;
};

}  // namespace uasyncd::server
