// The GET bodies of finished tasks, serialized once. A finished task does not change until it is
// deleted, evicted or retried, so an HTTP thread can answer a read of it from here without a
// round trip to the loop thread (the round trip, two thread wake-ups, is most of a GET's cost).
// Only the loop thread writes, and it erases an entry before it answers the request that made it
// stale, so no reader sees a body of a task that a finished request has already changed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace uasyncd::server {

class FinishedTaskCache {
 public:
  using Body = std::shared_ptr<const std::string>;

  // At most `capacity` bodies are kept, the oldest put dropped first: the cache holds the tasks
  // being read, not a second copy of every retained task.
  explicit FinishedTaskCache(std::size_t capacity) : capacity_(capacity) {}

  // Any thread. Null when the task's body is not cached.
  Body find(std::uint64_t seq) const;
  // The loop thread only.
  void put(std::uint64_t seq, Body body);
  void erase(std::uint64_t seq);
  std::size_t size() const;

 private:
  const std::size_t capacity_;
  // A plain mutex, not a shared one: glibc's rwlock prefers readers, and a stream of GETs
  // must never starve the loop thread that writes. Holders only look up or copy a pointer.
  mutable std::mutex mu_;
  std::unordered_map<std::uint64_t, Body> bodies_;
  // Put order, for dropping the oldest; may name tasks erased since (then dropping them is a
  // no-op), so it is trimmed at twice the capacity.
  std::deque<std::uint64_t> order_;
};

}  // namespace uasyncd::server
