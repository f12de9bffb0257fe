// The GET bodies of finished jobs, serialized once. A finished job does not change until it is
// deleted or removed by retention, so an HTTP thread can answer a read of it from here without a
// store read or a round trip to the loop thread.
//
// Threads: any. A body is put by the thread that read the job from the store; it is erased
// (after the removal is committed) before the request that removed the job is answered, and a
// put that raced with an erase is dropped (generation()), so no reader sees a body of a job that
// an answered request has removed.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>

namespace uasyncd::server {

class FinishedJobCache {
 public:
  using Body = std::shared_ptr<const std::string>;

  // At most `capacity` bodies are kept, the oldest put dropped first: the cache holds the jobs
  // being read, not a second copy of every retained job.
  explicit FinishedJobCache(std::size_t capacity) : capacity_(capacity) {}

  // Null when the job's body is not cached.
  Body find(std::uint64_t id) const;
  // Read before reading a job from the store; pass it to put().
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // Keeps `body` unless an erase happened since `generation` was read.
  void put(std::uint64_t id, Body body, std::uint64_t generation);
  void erase(std::uint64_t id);
  void erase(std::span<const std::uint64_t> ids);
  std::size_t size() const;

 private:
  const std::size_t capacity_;
  // A plain mutex, not a shared one: glibc's rwlock prefers readers, and a stream of GETs must
  // never starve an eraser. Holders only look up or copy a pointer.
  mutable std::mutex mu_;
  std::unordered_map<std::uint64_t, Body> bodies_;
  // Put order, for dropping the oldest; may name jobs erased since (then dropping them is a
  // no-op), so it is trimmed at twice the capacity.
  std::deque<std::uint64_t> order_;
  std::atomic<std::uint64_t> generation_{0};  // erases so far
};

}  // namespace uasyncd::server
