// Named queues: a spec's root "queue" (default "default") puts its task in one; each queue has
// its own limit of tasks running at once (max_running, 0: none) and can be paused (no task of it
// starts; running ones go on). Pending tasks wait in their queue's PendingQueue, highest priority
// first; a queue's limit counts only its own running tasks.
//
// Threads: the loop thread's, as JobService's, which owns it. Queues are few (configured ones and
// those tasks name); each costs a map entry.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "uasyncd/service/pending_queue.hpp"

namespace uasyncd::server {

inline constexpr const char* kDefaultQueue = "default";
// Queues a daemon keeps at most (configured or named by live tasks): each is a map entry, but
// the API lists them all.
inline constexpr std::size_t kMaxQueues = 1000;
// Seconds over which finished_per_second is averaged.
inline constexpr std::size_t kQueueRateSeconds = 60;

struct QueueConfig {
  std::size_t max_running = 0;  // 0: no limit
  bool paused = false;
};

class NamedQueues {
 public:
  struct Queue {
    QueueConfig config;
    bool configured = false;  // by a flag, the store or PUT /api/queues (else: named by a task)
    PendingQueue pending;
    std::size_t running = 0;
    std::size_t scheduled = 0;
    // Tasks finished per wall-clock second, the last kQueueRateSeconds seconds.
    std::array<std::uint32_t, kQueueRateSeconds> finished{};
    std::int64_t finished_second = 0;  // the second finished[second % size] counts
  };

  explicit NamedQueues(std::size_t default_max_running);

  // The queue, made (unconfigured: no limit) if it is not there yet.
  Queue& at(std::string_view name);
  const Queue* find(std::string_view name) const;
  void configure(std::string_view name, QueueConfig config);

  // Whether one more task of the queue may start now.
  bool may_start(const Queue& q) const {
    return !q.config.paused && (q.config.max_running == 0 || q.running < q.config.max_running);
  }
  void count_finished(Queue& q, std::int64_t now_s);
  double finished_per_second(const Queue& q, std::int64_t now_s) const;
  std::size_t pending_total() const;
  std::size_t scheduled_total() const;
  // Whether a task may name a queue not seen before (kMaxQueues).
  bool has_room() const { return queues_.size() < kMaxQueues; }

  auto begin() { return queues_.begin(); }
  auto end() { return queues_.end(); }
  auto begin() const { return queues_.begin(); }
  auto end() const { return queues_.end(); }

 private:
  std::map<std::string, Queue, std::less<>> queues_;
};

}  // namespace uasyncd::server
