// Delayed jobs: a root spec's "delay" or "at" keeps the job scheduled until then. One timer task
// serves them all: it sleeps until the earliest time in the DueQueue (a heap of (run_at, id)) and
// makes what is due pending. A job not due within kKeepLiveMs leaves RAM once its insert is
// committed (it is "parked": 16 bytes of heap entry and a bit remain), and is read back from the
// backend when it is due or when a request names it (get, cancel, wait, delete, timeout). So
// 100,000 far-off tasks cost a few MB, not a job object and a sleeping task each.
//
// The wall-clock run_at is what is stored and shown; the loop's clock (monotonic, or virtual in
// tests) measures the wait, computed when the timer first sees the job (at the loop's next turn,
// not during a long restore or a large batch of submits, whose time must not be added), so a
// time that passed while the daemon was down fires as soon as it starts. A wall clock set
// meanwhile moves a wait only across a restart.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "uasyncd/service/job_service.hpp"
#include "uasyncd/store/job_row.hpp"

namespace uasyncd::server {
namespace {

// Jobs due within this stay in RAM: reading one back would only add work near its time.
constexpr std::int64_t kKeepLiveMs = 2000;
constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
// How often committed inserts are looked for, to park their jobs.
constexpr std::int64_t kParkPollMs = 50;

}  // namespace

void JobService::sleep_until_due(const Job& job, WriteTicket insert) {
  const std::int64_t wait = job.run_at_ms() - wall_ms();
  staged_.push_back({job.run_at_ms(), job.id()});
  ++queue_of(job).scheduled;
  if (wait > kKeepLiveMs) {
    parking_.emplace_back(job.id(), insert);
    if (!parking_queued_) {
      parking_queued_ = true;
      spawn(park_soon(this));
    }
  }
  wake_due_timer();
}

void JobService::scheduled_left(const Job& job) {
  NamedQueues::Queue& q = queue_of(job);
  if (q.scheduled > 0) --q.scheduled;
}

void JobService::wake_due_timer() {
  // Running its own turn (it looks at the staged jobs before it sleeps again), or restarted
  // already in this turn.
  if (in_due_timer_ || due_timer_waking_) return;
  if (due_timer_ && !due_timer_.done()) due_timer_.cancel();
  due_timer_waking_ = true;
  due_timer_ = uasyncio::create_task(fire_when_due(this));
}

uasyncio::Coro<void> JobService::fire_when_due(JobService* self) {
  for (;;) {
    self->in_due_timer_ = true;
    self->due_timer_waking_ = false;
    if (!self->staged_.empty()) {
      const std::int64_t now = uasyncio::ticks_ms();
      const std::int64_t wall = wall_ms();
      for (const DueQueue::Due& s : self->staged_) {
        const std::int64_t wait = std::max<std::int64_t>(0, s.at_ms - wall);
        self->due_.push({wait > kNever - now ? kNever : now + wait, s.id});
      }
      self->staged_.clear();
      self->staged_.shrink_to_fit();
    }
    if (self->due_.empty()) break;
    const DueQueue::Due next = self->due_.top();
    const std::int64_t wait = next.at_ms - uasyncio::ticks_ms();
    if (wait > 0) {
      self->in_due_timer_ = false;
      co_await uasyncio::sleep_ms(wait);
      continue;
    }
    self->due_.pop();
    self->due(next.id);
  }
  self->in_due_timer_ = false;
}

void JobService::due(std::uint64_t id) {
  std::shared_ptr<Job> job;
  if (parked_.contains(id)) {
    job = unpark(id);
  } else if (auto it = live_.find(id); it != live_.end()) {
    job = it->second;
  }
  // Cancelled or deleted since: its entry was left to come up.
  if (!job || job->state() != JobState::scheduled) return;
  scheduled_left(*job);
  job->make_due();
  spdlog::debug("{} is due", job->id_text());
  write_now(*job, JobState::scheduled);
  transition(*job, "due");
  enqueue(job);
  // A named queue's limit holds for the whole cluster: its task starts where a claim allows.
  if (claim_first(*job)) release_waiting();
  start_pending();
}

void JobService::park_committed() {
  const std::int64_t now = wall_ms();
  while (!parking_.empty() && backend_.committed(parking_.front().second)) {
    const std::uint64_t id = parking_.front().first;
    parking_.pop_front();
    auto it = live_.find(id);
    if (it == live_.end()) continue;
    const Job& job = *it->second;
    // Kept while anything holds it: a timeout, a waiter, an output follower, a batched write.
    const bool held = timeouts_.contains(id) || watches_.contains(id) || followers_.contains(id) ||
                      unwritten_.contains(id) || it->second.use_count() > 1;
    if (job.state() != JobState::scheduled || held || job.run_at_ms() - now <= kKeepLiveMs) {
      continue;
    }
    live_.erase(it);
    parked_.insert(id);
  }
}

uasyncio::Coro<void> JobService::park_soon(JobService* self) {
  while (!self->parking_.empty()) {
    co_await uasyncio::sleep_ms(kParkPollMs);
    self->park_committed();
  }
  self->parking_queued_ = false;
}

std::shared_ptr<Job> JobService::unpark(std::uint64_t id) {
  if (!parked_.contains(id)) return nullptr;
  parked_.erase(id);
  std::optional<JobRow> row;
  try {
    row = backend_.get(id);
  } catch (const std::exception& e) {
    spdlog::error("scheduled task t{} cannot be read back: {}", id, e.what());
    parked_.insert(id);  // still there: the next look may read it
    return nullptr;
  }
  std::string why;
  std::shared_ptr<Job> job = row ? job_of(*row, why) : nullptr;
  if (!job) {
    spdlog::error("scheduled task t{} cannot be read back: {}", id, row ? why : "not stored");
    return nullptr;
  }
  live_[id] = job;
  if (job->state() == JobState::scheduled) {
    // Parked again once nothing holds it, unless it is due soon.
    parking_.emplace_back(id, 0);
    if (!parking_queued_) {
      parking_queued_ = true;
      spawn(park_soon(this));
    }
  }
  return job;
}

std::shared_ptr<Job> JobService::find_live(std::uint64_t id) {
  if (auto it = live_.find(id); it != live_.end()) return it->second;
  return unpark(id);
}

}  // namespace uasyncd::server
