#include "uasyncd/server/finished_task_cache.hpp"

#include <mutex>
#include <utility>

namespace uasyncd::server {

FinishedTaskCache::Body FinishedTaskCache::find(std::uint64_t seq) const {
  std::lock_guard lock(mu_);
  auto it = bodies_.find(seq);
  return it == bodies_.end() ? nullptr : it->second;
}

void FinishedTaskCache::put(std::uint64_t seq, Body body) {
  if (capacity_ == 0) return;
  std::lock_guard lock(mu_);
  while (!order_.empty() && (bodies_.size() >= capacity_ || order_.size() >= 2 * capacity_)) {
    bodies_.erase(order_.front());
    order_.pop_front();
  }
  if (bodies_.insert_or_assign(seq, std::move(body)).second) order_.push_back(seq);
}

void FinishedTaskCache::erase(std::uint64_t seq) {
  std::lock_guard lock(mu_);
  bodies_.erase(seq);
}

std::size_t FinishedTaskCache::size() const {
  std::lock_guard lock(mu_);
  return bodies_.size();
}

}  // namespace uasyncd::server
