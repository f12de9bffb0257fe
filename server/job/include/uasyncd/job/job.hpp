// A job: what the daemon knows about one submitted spec and each of its steps. The job owns its
// invariants: every change of state is one of the transition methods below, each of which checks
// that it is allowed from the state the job is in (std::logic_error if not: a bug, not an input).
//
// Lifetime and threads: a live job is owned (shared_ptr) by the service and, while it runs, by
// the runner, and is touched on the loop thread only. A job rebuilt from a stored row (see
// store/job_row.hpp) is a private copy of the thread that read it. Runtime handles (uasyncio
// tasks, timers) are not here: they live with the runner and the service.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "uasyncd/job/exec_output.hpp"
#include "uasyncd/job/job_error_info.hpp"
#include "uasyncd/job/job_spec.hpp"
#include "uasyncd/job/job_state.hpp"

namespace uasyncd::server {

// Milliseconds since the Unix epoch (wall clock, for display).
std::int64_t wall_ms();

class JobStep {
 public:
  const StepSpec& spec() const { return *spec_; }
  std::size_t index() const { return index_; }  // preorder position: the id is "<job-id>.<index>"
  std::span<const std::size_t> children() const { return children_; }
  JobState state() const { return state_; }
  const nlohmann::json& result() const { return result_; }
  const std::optional<ErrorInfo>& error() const { return error_; }
  std::int64_t started_ms() const { return started_ms_; }
  std::int64_t finished_ms() const { return finished_ms_; }
  // What the step's process wrote (exec steps, once their process started).
  const ExecOutput* exec() const { return exec_.get(); }
  ExecOutput* exec() { return exec_.get(); }

 private:
  friend class Job;
  const StepSpec* spec_ = nullptr;
  std::size_t index_ = 0;
  std::vector<std::size_t> children_;
  JobState state_ = JobState::pending;
  nlohmann::json result_;
  std::optional<ErrorInfo> error_;
  std::int64_t started_ms_ = 0;
  std::int64_t finished_ms_ = 0;
  std::unique_ptr<ExecOutput> exec_;
};

class Job {
 public:
  // A new pending job. `spec_json` is the document the spec was parsed from (shown and stored).
  Job(std::uint64_t id, std::shared_ptr<const JobSpec> spec,
      std::shared_ptr<const nlohmann::json> spec_json, std::int64_t created_ms);
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;

  std::uint64_t id() const { return id_; }
  const std::string& id_text() const { return id_text_; }
  std::string step_id(std::size_t index) const;
  const JobSpec& spec() const { return *spec_; }
  const nlohmann::json& spec_json() const { return *spec_json_; }
  const std::string& name() const { return spec_->root.name; }
  JobState state() const { return state_; }
  std::span<const JobStep> steps() const { return steps_; }
  const JobStep& step(std::size_t index) const { return steps_.at(index); }
  const nlohmann::json& result() const { return result_; }
  const std::optional<ErrorInfo>& error() const { return error_; }
  std::int64_t created_ms() const { return created_ms_; }
  std::int64_t started_ms() const { return started_ms_; }
  std::int64_t finished_ms() const { return finished_ms_; }
  int attempts() const { return attempts_; }  // runs started so far
  // The latest time the job records (its start, a step's start or end): where a run the daemon
  // lost is known to have been last, so an interrupted job's duration does not count the outage.
  std::int64_t last_recorded_ms() const;
  // When a restart found the job running and interrupted it (0: it was not).
  std::int64_t interrupted_at_ms() const { return interrupted_at_ms_; }
  // The client's Idempotency-Key of the submit that made the job (empty: none). Set once, before
  // the job is stored; the store keeps it, so a retried submit finds the job while it is retained.
  const std::string& idempotency_key() const { return idempotency_key_; }
  void set_idempotency_key(std::string key) { idempotency_key_ = std::move(key); }
  // When the job may start (wall clock, ms since the epoch) if its spec has a "delay" or an
  // "at"; 0 otherwise. Kept after it started, to show when it was meant to.
  std::int64_t run_at_ms() const { return run_at_ms_; }
  // Loop time before which a retried job waits as pending (0: none).
  std::int64_t retry_at_ms() const { return retry_at_ms_; }
  // Another run is allowed after this one failed or was interrupted ("retries" in the spec).
  bool can_retry() const { return attempts_ <= spec_->retries; }

  // ---- transitions of the job ----
  // pending (new, never started) -> scheduled until `run_at_ms` (wall clock).
  void schedule(std::int64_t run_at_ms);
  // scheduled -> pending: its time has come.
  void make_due();
  // pending -> running: one more attempt.
  void start(std::int64_t now_ms);
  // running -> a final state with its result (done) or error (the others).
  void finish(JobState final_state, nlohmann::json result, std::optional<ErrorInfo> error,
              std::int64_t now_ms);
  // scheduled or pending -> cancelled or timed_out, never having run: every step is cancelled.
  void finish_unstarted(JobState final_state, ErrorInfo error, std::int64_t now_ms);
  // running (a restart found it so) or failed/timed_out (a retry) -> pending, every step fresh:
  // the steps of the lost or failed run must not show through in the next one.
  void requeue(std::int64_t retry_at_ms);
  // running -> interrupted (a restart found it so): steps that ended keep their outcome, a step
  // that was running is interrupted too (it may have done part of its work), one that never
  // started is cancelled (it did nothing and never will). `end_ms`: when the lost run is known to
  // have ended (interrupted_end_ms), its finish time and that of its running steps; `found_ms`:
  // when the restart found it (interrupted_at_ms).
  void interrupt(std::int64_t end_ms, std::int64_t found_ms);

  // ---- transitions of a step (the job runs) ----
  void start_step(std::size_t index, std::int64_t now_ms);
  void finish_step(std::size_t index, JobState final_state, nlohmann::json result,
                   std::optional<ErrorInfo> error, std::int64_t now_ms);
  // The exec step's process started: its output is captured here from now on.
  ExecOutput& start_exec(std::size_t index);
  ExecOutput* exec(std::size_t index) { return steps_.at(index).exec_.get(); }

  // ---- restore: what a stored row says, applied to a new job (store/job_row.cpp) ----
  struct Stored {
    JobState state = JobState::pending;
    int attempts = 0;
    std::int64_t started_ms = 0;
    std::int64_t finished_ms = 0;
    nlohmann::json result;
    std::optional<ErrorInfo> error;
    std::int64_t interrupted_at_ms = 0;  // last: brace-initialised positionally elsewhere
    std::int64_t run_at_ms = 0;          // after it, for the same reason
  };
  void restore(Stored stored);
  void restore_step(std::size_t index, JobState state, nlohmann::json result,
                    std::optional<ErrorInfo> error, std::int64_t started_ms,
                    std::int64_t finished_ms);
  void restore_exec(std::size_t index, std::unique_ptr<ExecOutput> output);

 private:
  void build_steps();
  std::size_t add_steps(const StepSpec& step);
  void expect(bool allowed, const char* transition) const;

  std::uint64_t id_;
  std::string id_text_;
  std::shared_ptr<const JobSpec> spec_;
  std::shared_ptr<const nlohmann::json> spec_json_;
  std::string idempotency_key_;
  JobState state_ = JobState::pending;
  std::vector<JobStep> steps_;  // preorder; rebuilt only by requeue
  nlohmann::json result_;
  std::optional<ErrorInfo> error_;
  std::int64_t created_ms_ = 0;
  std::int64_t run_at_ms_ = 0;
  std::int64_t started_ms_ = 0;
  std::int64_t finished_ms_ = 0;
  std::int64_t interrupted_at_ms_ = 0;
  int attempts_ = 0;
  std::int64_t retry_at_ms_ = 0;
};

// Where the run of a job a restart found running ended, as well as the store knows: the last
// time the daemon was known alive (`alive_ms`, its heartbeat; nullopt: none stored), never later
// than `now_ms` (a clock set back) and never before the job's last recorded time. So its
// duration leaves out the outage, at most one heartbeat period short.
std::int64_t interrupted_end_ms(const Job& job, std::optional<std::int64_t> alive_ms,
                                std::int64_t now_ms);

}  // namespace uasyncd::server
