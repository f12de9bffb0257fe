#include "uasyncd/job/job.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <utility>

#include "uasyncd/job/job_id.hpp"

namespace uasyncd::server {

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Job::Job(std::uint64_t id, std::shared_ptr<const JobSpec> spec,
         std::shared_ptr<const nlohmann::json> spec_json, std::int64_t created_ms)
    : id_(id),
      id_text_(job_id_text(id)),
      spec_(std::move(spec)),
      spec_json_(std::move(spec_json)),
      created_ms_(created_ms) {
  build_steps();
}

std::string Job::step_id(std::size_t index) const {
  return step_id_text(id_, index);
}

void Job::build_steps() {
  steps_.clear();
  steps_.reserve(spec_->steps);
  add_steps(spec_->root);
}

std::size_t Job::add_steps(const StepSpec& step) {
  const std::size_t index = steps_.size();
  steps_.emplace_back();
  steps_[index].spec_ = &step;
  steps_[index].index_ = index;
  for (const StepSpec& child : children(step)) {
    const std::size_t c = add_steps(child);
    steps_[index].children_.push_back(c);
  }
  return index;
}

void Job::expect(bool allowed, const char* transition) const {
  if (!allowed) {
    throw std::logic_error(id_text_ + ": " + transition + " not allowed from " +
                           state_name(state_));
  }
}

void Job::schedule(std::int64_t run_at_ms) {
  expect(state_ == JobState::pending && attempts_ == 0, "schedule");
  state_ = JobState::scheduled;
  run_at_ms_ = run_at_ms;
}

void Job::make_due() {
  expect(state_ == JobState::scheduled, "make_due");
  state_ = JobState::pending;
}

void Job::start(std::int64_t now_ms) {
  expect(state_ == JobState::pending, "start");
  state_ = JobState::running;
  started_ms_ = now_ms;
  ++attempts_;
  retry_at_ms_ = 0;
}

void Job::finish(JobState final_state, nlohmann::json result, std::optional<ErrorInfo> error,
                 std::int64_t now_ms) {
  expect(state_ == JobState::running && is_final(final_state), "finish");
  state_ = final_state;
  result_ = std::move(result);
  error_ = std::move(error);
  finished_ms_ = now_ms;
}

void Job::finish_unstarted(JobState final_state, ErrorInfo error, std::int64_t now_ms) {
  expect((state_ == JobState::pending || state_ == JobState::scheduled) && is_final(final_state),
         "finish_unstarted");
  state_ = final_state;
  error_ = std::move(error);
  finished_ms_ = now_ms;
  for (JobStep& s : steps_)
    s.state_ = JobState::cancelled;
}

void Job::requeue(std::int64_t retry_at_ms) {
  expect(state_ == JobState::running || state_ == JobState::failed || state_ == JobState::timed_out,
         "requeue");
  state_ = JobState::pending;
  started_ms_ = 0;
  finished_ms_ = 0;
  interrupted_at_ms_ = 0;
  result_ = nlohmann::json();
  error_.reset();
  retry_at_ms_ = retry_at_ms;
  build_steps();
}

std::int64_t Job::last_recorded_ms() const {
  std::int64_t last = started_ms_;
  for (const JobStep& s : steps_)
    last = std::max({last, s.started_ms_, s.finished_ms_});
  return last;
}

void Job::interrupt(std::int64_t end_ms, std::int64_t found_ms) {
  expect(state_ == JobState::running, "interrupt");
  state_ = JobState::interrupted;
  finished_ms_ = end_ms;
  interrupted_at_ms_ = found_ms;
  error_ = ErrorInfo{"Interrupted", "the daemon stopped while the task was running"};
  for (JobStep& s : steps_) {
    if (s.state_ == JobState::running) {
      s.state_ = JobState::interrupted;
      s.finished_ms_ = end_ms;
      s.error_ = ErrorInfo{"Interrupted", "the daemon stopped while the step was running"};
    } else if (s.state_ == JobState::pending) {
      s.state_ = JobState::cancelled;
    }
  }
}

std::int64_t interrupted_end_ms(const Job& job, std::optional<std::int64_t> alive_ms,
                                std::int64_t now_ms) {
  const std::int64_t recorded = job.last_recorded_ms();
  if (!alive_ms) return recorded;
  return std::max(recorded, std::min(*alive_ms, now_ms));
}

void Job::start_step(std::size_t index, std::int64_t now_ms) {
  JobStep& s = steps_.at(index);
  s.state_ = JobState::running;
  s.started_ms_ = now_ms;
}

void Job::finish_step(std::size_t index, JobState final_state, nlohmann::json result,
                      std::optional<ErrorInfo> error, std::int64_t now_ms) {
  JobStep& s = steps_.at(index);
  s.state_ = final_state;
  s.result_ = std::move(result);
  s.error_ = std::move(error);
  s.finished_ms_ = now_ms;
}

ExecOutput& Job::start_exec(std::size_t index) {
  JobStep& s = steps_.at(index);
  s.exec_ = std::make_unique<ExecOutput>();
  return *s.exec_;
}

void Job::restore(Stored stored) {
  state_ = stored.state;
  attempts_ = stored.attempts;
  run_at_ms_ = stored.run_at_ms;
  started_ms_ = stored.started_ms;
  finished_ms_ = stored.finished_ms;
  interrupted_at_ms_ = stored.interrupted_at_ms;
  result_ = std::move(stored.result);
  error_ = std::move(stored.error);
}

void Job::restore_step(std::size_t index, JobState state, nlohmann::json result,
                       std::optional<ErrorInfo> error, std::int64_t started_ms,
                       std::int64_t finished_ms) {
  JobStep& s = steps_.at(index);
  s.state_ = state;
  s.result_ = std::move(result);
  s.error_ = std::move(error);
  s.started_ms_ = started_ms;
  s.finished_ms_ = finished_ms;
}

void Job::restore_exec(std::size_t index, std::unique_ptr<ExecOutput> output) {
  steps_.at(index).exec_ = std::move(output);
}

}  // namespace uasyncd::server
