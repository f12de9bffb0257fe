// Retries: a job that failed or timed out with "retries" left runs again after its backoff,
// "retry_delay" doubled at each attempt up to an hour.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "uasyncd/service/job_service.hpp"

namespace uasyncd::server {
namespace {

constexpr double kMaxBackoffSeconds = 3600;

}  // namespace

bool JobService::retry_later(Job& job) {
  if ((job.state() != JobState::failed && job.state() != JobState::timed_out) || !job.can_retry()) {
    return false;
  }
  const double backoff = std::min(
      job.spec().retry_delay * std::pow(2.0, std::max(0, job.attempts() - 1)), kMaxBackoffSeconds);
  const auto delay_ms = static_cast<std::int64_t>(std::floor(backoff * 1000.0));
  spdlog::debug("{} {} (attempt {}), retried in {}s", job.id_text(), state_name(job.state()),
                job.attempts(), backoff);
  job.requeue(uasyncio::ticks_ms() + delay_ms);
  // The failed run was never written as final: the row goes from running to pending.
  write_now(job, JobState::running);
  if (auto it = live_.find(job.id()); it != live_.end()) enqueue(it->second);
  if (delay_ms > 0) spawn(start_pending_after(this, delay_ms));
  return true;
}

uasyncio::Coro<void> JobService::start_pending_after(JobService* self, std::int64_t ms) {
  co_await uasyncio::sleep_ms(ms);
  self->start_pending();
}

}  // namespace uasyncd::server
