// Delayed jobs: a root spec's "delay" or "at" keeps the job scheduled until then. Each scheduled
// job is one sleeper on the loop, so the scheduler's own timer heap orders them by deadline (no
// second timer structure), and firing costs what waking a task costs. The wall-clock run_at is
// what is stored and shown; the loop's clock (monotonic, or virtual in tests) only measures the
// delay from now, computed again at every start, so a time that passed while the daemon was down
// fires as soon as it starts.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "uasyncd/service/job_service.hpp"

namespace uasyncd::server {

void JobService::sleep_until_due(const Job& job) {
  sleepers_[job.id()] = uasyncio::create_task(wake_when_due(this, job.id(), job.run_at_ms()));
  ++queue_of(job).scheduled;
}

void JobService::sleeper_gone(std::uint64_t id) {
  if (sleepers_.erase(id) == 0) return;
  if (auto it = live_.find(id); it != live_.end()) {
    NamedQueues::Queue& q = queue_of(*it->second);
    if (q.scheduled > 0) --q.scheduled;
  }
}

void JobService::drop_sleeper(std::uint64_t id) {
  auto it = sleepers_.find(id);
  if (it == sleepers_.end()) return;
  if (it->second && !it->second.done()) it->second.cancel();
  sleeper_gone(id);
}

uasyncio::Coro<void> JobService::wake_when_due(JobService* self, std::uint64_t id,
                                               std::int64_t run_at_ms) {
  // Measured when the task first runs, not when it was made: a task starts at the loop's next
  // turn, which comes only after a long restore or a large batch of submits.
  co_await uasyncio::sleep_ms(std::max<std::int64_t>(0, run_at_ms - wall_ms()));
  self->sleeper_gone(id);  // this task: what due() causes must not cancel it
  self->due(id);
}

void JobService::due(std::uint64_t id) {
  auto it = live_.find(id);
  if (it == live_.end() || it->second->state() != JobState::scheduled) return;
  const std::shared_ptr<Job> job = it->second;
  job->make_due();
  spdlog::debug("{} is due", job->id_text());
  write_now(*job, JobState::scheduled);
  transition(*job, "due");
  enqueue(job);
  start_pending();
}

}  // namespace uasyncd::server
