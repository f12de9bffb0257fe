// Start-up: jobs the backend holds as live (pending or running when the last daemon stopped)
// come back: scheduled ones sleep until their time again (or are due at once), pending ones are
// queued again; running ones run again from the start when their
// spec allows a retry, else they are interrupted (whatever they were doing was lost).
#include <spdlog/spdlog.h>

#include "uasyncd/service/job_service.hpp"

namespace uasyncd::server {

void JobService::restore() {
  restore_queues();
  std::size_t restored = 0;
  std::size_t requeued = 0;
  std::size_t interrupted = 0;
  std::size_t scheduled = 0;
  // The last time the previous run was known alive (its heartbeat), and now.
  const std::optional<std::int64_t> alive_ms = backend_.last_alive_ms();
  const std::int64_t found_ms = wall_ms();
  for (const JobRow& row : backend_.load_live()) {
    std::string why;
    std::shared_ptr<Job> job = job_of(row, why);
    if (!job) {
      spdlog::error("task t{} cannot be read back, left in the file: {}", row.id, why);
      continue;
    }
    ++restored;
    live_[job->id()] = job;
    if (job->state() == JobState::running && job->can_retry()) {
      job->requeue(0);
      write_now(*job, JobState::running);
    }
    if (job->state() == JobState::scheduled) {
      sleep_until_due(*job);  // at once if its time passed while no daemon ran
      ++scheduled;
    } else if (job->state() == JobState::pending) {
      enqueue(job);
      ++requeued;
    } else {
      // Not now: the daemon was down in between, and the run ended when it died, which the
      // heartbeat tells to within a second.
      job->interrupt(interrupted_end_ms(*job, alive_ms, found_ms), found_ms);
      release_when_committed(job->id(), write_now(*job, JobState::running));
      if (options_.counted) options_.counted(job->state());
      // No "finished" event (no client is connected yet), but it finished now.
      history_.count(JobState::interrupted, wall_ms() / 1000);
      ++interrupted;
    }
  }
  spdlog::info("restored {} tasks: {} scheduled, {} queued again, {} interrupted", restored,
               scheduled, requeued, interrupted);
  start_pending();
  // Cluster mode: the rows this instance runs come from claims, which start now.
  offer_room();
}

}  // namespace uasyncd::server
