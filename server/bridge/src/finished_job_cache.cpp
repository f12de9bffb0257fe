#include "uasyncd/bridge/finished_job_cache.hpp"

#include <mutex>
#include <utility>

namespace uasyncd::server {

FinishedJobCache::Body FinishedJobCache::find(std::uint64_t id) const {
  std::lock_guard lock(mu_);
  auto it = bodies_.find(id);
  return it == bodies_.end() ? nullptr : it->second;
}

void FinishedJobCache::put(std::uint64_t id, Body body, std::uint64_t generation) {
  if (capacity_ == 0) return;
  std::lock_guard lock(mu_);
  // Under the lock, which erase() takes before it bumps the generation: an erase either came
  // before this check (the put is dropped) or comes after the put (and removes it).
  if (generation_.load(std::memory_order_acquire) != generation) return;
  while (!order_.empty() && (bodies_.size() >= capacity_ || order_.size() >= 2 * capacity_)) {
    bodies_.erase(order_.front());
    order_.pop_front();
  }
  if (bodies_.insert_or_assign(id, std::move(body)).second) order_.push_back(id);
}

void FinishedJobCache::erase(std::uint64_t id) {
  erase(std::span<const std::uint64_t>(&id, 1));
}

void FinishedJobCache::erase(std::span<const std::uint64_t> ids) {
  std::lock_guard lock(mu_);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  for (std::uint64_t id : ids)
    bodies_.erase(id);
}

std::size_t FinishedJobCache::size() const {
  std::lock_guard lock(mu_);
  return bodies_.size();
}

}  // namespace uasyncd::server
