// Cluster mode (a backend several daemons share, pg_cluster.hpp): this instance holds in RAM only
// the tasks it runs, those waiting out a retry's backoff and its scheduled ones; a task that
// would wait for a slot is released to the database, where any instance with room claims it.
// Claimed rows come back here and are taken in as a restart takes in what it finds.
#include <spdlog/spdlog.h>

#include "uasyncd/service/job_service.hpp"

namespace uasyncd::server {
namespace {

// How many pending tasks a queue without a limit asks for at once (it can start them all).
constexpr std::size_t kUnlimitedClaim = 1000;

}  // namespace

void JobService::release_waiting() {
  if (!backend_.shared()) return;
  const std::int64_t now = uasyncio::ticks_ms();
  bool any = false;
  for (auto& [name, q] : queues_) {
    for (auto it = q.pending.begin(); it != q.pending.end();) {
      // A retry waiting out its backoff stays: its time is kept on this loop's clock only.
      if (it->second.job->retry_at_ms() > now) {
        ++it;
        continue;
      }
      const std::shared_ptr<Job> job = it->second.job;
      it = q.pending.erase(it);
      backend_.release(*job);
      live_.erase(job->id());
      ++released_;
      any = true;
    }
  }
  // The queue may be new here: the cluster learns its room, or it would not claim for it.
  if (any) offer_room();
}

bool JobService::claim_first(const Job& job) const {
  return backend_.shared() && job.spec().queue != kDefaultQueue;
}

void JobService::offer_room() {
  if (backend_.shared() && options_.want_claim) options_.want_claim(free_slots());
}

std::map<std::string, std::size_t> JobService::free_slots() const {
  std::map<std::string, std::size_t> free;
  for (const auto& [name, q] : queues_) {
    if (q.config.paused) continue;
    if (q.config.max_running == 0) {
      free[name] = kUnlimitedClaim;
    } else if (q.running + q.pending.size() < q.config.max_running) {
      free[name] = q.config.max_running - q.running - q.pending.size();
    }
  }
  return free;
}

void JobService::adopt(std::vector<ClaimedRow> rows) {
  const std::int64_t found_ms = wall_ms();
  for (ClaimedRow& claimed : rows) {
    const JobRow& row = claimed.row;
    if (live_.contains(row.id)) continue;  // ours already: a claim answered twice
    std::string why;
    std::shared_ptr<Job> job = job_of(row, why);
    if (!job) {
      spdlog::error("task t{} cannot be read back, left in the database: {}", row.id, why);
      continue;
    }
    if (std::optional<JobError> refused = queue_refused(job->spec())) {
      spdlog::error("task t{} cannot be taken in: {}", row.id, refused->message);
      continue;
    }
    ++adopted_;
    live_[job->id()] = job;
    const bool was_running = job->state() == JobState::running;
    if (claimed.cancel_requested) {
      // Asked to cancel while its instance was gone: it ends cancelled, not run again.
      if (was_running) job->requeue(0);
      const JobState was = job->state();
      if (was == JobState::scheduled) ++queue_of(*job).scheduled;  // scheduled_left takes it
      if (was == JobState::pending) enqueue(job);
      finish_pending(*job, JobState::cancelled,
                     {"CancelledError", "cancelled while its instance was gone"});
      continue;
    }
    if (was_running && job->can_retry()) {
      job->requeue(0);
      write_now(*job, JobState::running);
    }
    if (job->state() == JobState::scheduled) {
      sleep_until_due(*job);  // due at once: only due rows are claimed
    } else if (job->state() == JobState::pending) {
      enqueue(job);
    } else {
      // Its instance died while it ran: it ended then (that instance's last heartbeat), as a
      // restart ends what it finds running.
      const std::optional<std::int64_t> alive =
          row.interrupted_at_ms != 0 ? std::optional(row.interrupted_at_ms) : std::nullopt;
      job->interrupt(interrupted_end_ms(*job, alive, found_ms), found_ms);
      release_when_committed(job->id(), write_now(*job, JobState::running));
      if (options_.counted) options_.counted(job->state());
      history_.count(JobState::interrupted, wall_ms() / 1000);
      transition(*job, "finished");
    }
  }
  start_pending();
}

void JobService::cancel_requested(std::span<const std::uint64_t> ids) {
  for (std::uint64_t id : ids) {
    if (!live_.contains(id) && !parked_.contains(id)) continue;  // finished meanwhile
    const Result<nlohmann::json> r = cancel(JobRef{id, {}});
    if (!r) spdlog::debug("t{}: a remote cancel found nothing to do", id);
  }
}

void JobService::abandon_all() {
  std::size_t dropped = 0;
  std::size_t stopped = 0;
  for (auto& [name, q] : queues_) {
    dropped += q.pending.size();
    q.pending.clear();
    q.scheduled = 0;
  }
  staged_.clear();
  due_.clear();
  dropped += parked_.size();
  parked_.clear();
  parking_.clear();
  for (auto it = live_.begin(); it != live_.end();) {
    const Job& job = *it->second;
    if (job.state() == JobState::running) {
      // Ended here (its exec processes killed); its writes are fenced out, being another's now.
      runner_.cancel(it->first);
      ++stopped;
      ++it;
    } else if (job.state() == JobState::pending || job.state() == JobState::scheduled) {
      it = live_.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
  spdlog::error(
      "the cluster lease was lost: {} running tasks stopped, {} waiting tasks left to the other "
      "instances",
      stopped, dropped);
}

}  // namespace uasyncd::server
