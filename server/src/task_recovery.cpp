// The task service's side of durability: bringing stored tasks back at start, and retries.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "uasyncd/server/task_service.hpp"

namespace uasyncd::server {

using api::State;

namespace {

constexpr double kMaxBackoffSeconds = 3600;

bool can_retry(const api::TaskRecord& task) {
  return task.attempts <= task.spec.retries;
}

}  // namespace

void TaskService::restore(std::vector<TaskPtr> tasks, std::uint64_t max_seq) {
  next_seq_ = std::max(next_seq_, max_seq + 1);
  std::size_t requeued = 0;
  std::size_t interrupted = 0;
  for (TaskPtr& task : tasks) {
    next_seq_ = std::max(next_seq_, task->seq + 1);
    task->observer = this;
    registry_->add(task);
    if (task->state == State::running && can_retry(*task)) {
      task->state = State::pending;
      task->started_ms = 0;
      // It runs again from the start: the steps the lost run got through must not show.
      for (api::StepRecord& s : task->steps) {
        s.state = State::pending;
        s.result = nlohmann::json();
        s.error.reset();
        s.started_ms = 0;
        s.finished_ms = 0;
        s.exec.reset();
      }
      if (options_.journal != nullptr) options_.journal->changed(*task);
    }
    if (task->state == State::pending) {
      ++counts_[State::pending];
      pending_.push_back(task);
      ++requeued;
      continue;
    }
    if (task->state == State::running) {
      // Whatever it was doing is lost with the process: it must not be taken for done.
      task->state = State::interrupted;
      task->finished_ms = api::wall_ms();
      task->error = api::ErrorInfo{"Interrupted", "the daemon stopped while the task was running"};
      // Steps that had ended keep their results. A step that was running is interrupted, as the
      // task is: it may have done part of its work. One that never started is cancelled, as the
      // steps of a task cancelled while pending are: it did nothing and never will.
      for (api::StepRecord& s : task->steps) {
        if (s.state == State::running) {
          s.state = State::interrupted;
          s.finished_ms = task->finished_ms;
          s.error = api::ErrorInfo{"Interrupted", "the daemon stopped while the step was running"};
        } else if (s.state == State::pending) {
          s.state = State::cancelled;
        }
      }
      if (options_.journal != nullptr) options_.journal->changed(*task);
      ++interrupted;
    }
    ++counts_[task->state];
    finished_order_.push_back(task->seq);
  }
  spdlog::info("restored {} tasks: {} queued again, {} interrupted", tasks.size(), requeued,
               interrupted);
  evict_finished();
  start_pending();
}

bool TaskService::retry_later(api::TaskRecord& task) {
  if ((task.state != State::failed && task.state != State::timed_out) || !can_retry(task)) {
    return false;
  }
  // A fresh record: the steps of the failed run must not show through in the new one.
  auto fresh = std::make_shared<api::TaskRecord>(task.seq, task.spec, task.spec_json);
  fresh->created_ms = task.created_ms;
  fresh->attempts = task.attempts;
  fresh->observer = this;
  const double backoff = std::min(
      task.spec.retry_delay * std::pow(2.0, std::max(0, task.attempts - 1)), kMaxBackoffSeconds);
  const std::int64_t delay_ms = uasyncio::seconds_to_ms(backoff);
  fresh->retry_at_ms = uasyncio::ticks_ms() + delay_ms;
  spdlog::debug("{} {} (attempt {}), retried in {}s", task.id, api::state_name(task.state),
                task.attempts, backoff);
  count(task.state, State::pending);
  forget(task.seq);
  registry_->add(fresh);
  pending_.push_back(fresh);
  if (options_.journal != nullptr) options_.journal->changed(*fresh);
  if (delay_ms > 0) uasyncio::create_task(start_pending_after(this, delay_ms));
  return true;
}

uasyncio::Coro<void> TaskService::start_pending_after(TaskService* self, std::int64_t ms) {
  co_await uasyncio::sleep_ms(ms);
  self->start_pending();
}

}  // namespace uasyncd::server
