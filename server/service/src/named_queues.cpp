#include "uasyncd/service/named_queues.hpp"

namespace uasyncd::server {

NamedQueues::NamedQueues(std::size_t default_max_running) {
  configure(kDefaultQueue, QueueConfig{default_max_running, false});
}

NamedQueues::Queue& NamedQueues::at(std::string_view name) {
  auto it = queues_.find(name);
  if (it == queues_.end()) it = queues_.emplace(std::string(name), Queue{}).first;
  return it->second;
}

const NamedQueues::Queue* NamedQueues::find(std::string_view name) const {
  auto it = queues_.find(name);
  return it == queues_.end() ? nullptr : &it->second;
}

void NamedQueues::configure(std::string_view name, QueueConfig config) {
  Queue& q = at(name);
  q.config = config;
  q.configured = true;
}

void NamedQueues::count_finished(Queue& q, std::int64_t now_s) {
  // Seconds that passed since the last count start from zero again.
  const std::int64_t gap = now_s - q.finished_second;
  if (gap >= static_cast<std::int64_t>(kQueueRateSeconds) || gap < 0) {
    q.finished.fill(0);
  } else {
    for (std::int64_t s = q.finished_second + 1; s <= now_s; ++s)
      q.finished[static_cast<std::size_t>(s) % kQueueRateSeconds] = 0;
  }
  q.finished_second = now_s;
  ++q.finished[static_cast<std::size_t>(now_s) % kQueueRateSeconds];
}

double NamedQueues::finished_per_second(const Queue& q, std::int64_t now_s) const {
  std::uint64_t total = 0;
  // The seconds in (now - kQueueRateSeconds, now] that the ring still holds.
  for (std::int64_t s = now_s - static_cast<std::int64_t>(kQueueRateSeconds) + 1; s <= now_s; ++s) {
    if (s > q.finished_second ||
        s <= q.finished_second - static_cast<std::int64_t>(kQueueRateSeconds))
      continue;
    total += q.finished[static_cast<std::size_t>(s) % kQueueRateSeconds];
  }
  return static_cast<double>(total) / static_cast<double>(kQueueRateSeconds);
}

std::size_t NamedQueues::pending_total() const {
  std::size_t n = 0;
  for (const auto& [name, q] : queues_)
    n += q.pending.size();
  return n;
}

std::size_t NamedQueues::scheduled_total() const {
  std::size_t n = 0;
  for (const auto& [name, q] : queues_)
    n += q.scheduled;
  return n;
}

}  // namespace uasyncd::server
