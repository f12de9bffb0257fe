#include "uasyncd/service/pending_queue.hpp"

namespace uasyncd::server {

void PendingQueue::push(std::shared_ptr<Job> job, std::int64_t queued_at_ms) {
  const Order::key_type key{-job->spec().priority, ++arrivals_};
  key_of_.emplace(job->id(), key);
  order_.emplace(key, Entry{std::move(job), queued_at_ms});
}

std::optional<PendingQueue::Entry> PendingQueue::take(std::uint64_t id) {
  auto key = key_of_.find(id);
  if (key == key_of_.end()) return std::nullopt;
  auto it = order_.find(key->second);
  Entry out = std::move(it->second);
  order_.erase(it);
  key_of_.erase(key);
  return out;
}

const PendingQueue::Entry* PendingQueue::find(std::uint64_t id) const {
  auto key = key_of_.find(id);
  return key == key_of_.end() ? nullptr : &order_.at(key->second);
}

PendingQueue::iterator PendingQueue::erase(iterator it) {
  key_of_.erase(it->second.job->id());
  return order_.erase(it);
}

void PendingQueue::clear() {
  order_.clear();
  key_of_.clear();
}

}  // namespace uasyncd::server
