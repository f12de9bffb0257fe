// The runner: runs a job's spec tree as uasyncio coroutines on the calling thread's loop. Every
// step below the root runs as its own uasyncio task, so each step id can be cancelled on its own
// (a cancelled child of a gather is just that child, as in the seed's gather example). The
// runtime handles of a running job (its tasks) live here, not in the job.
//
// Lifetime and threads: created, used and destroyed on the loop thread; abandon_all() before the
// loop goes away. The hooks are called on the loop thread, from inside the job's tasks.
#pragma once

#include <uasyncio/uasyncio.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "uasyncd/job/job.hpp"

namespace uasyncd::server {

struct RunnerHooks {
  // The job has ended: its final state, result or error are set, and the runner has let go of it.
  std::function<void(Job&)> finished;
  // A step started or ended (its state is already updated).
  std::function<void(Job&, std::size_t index)> step_changed;
  // An exec step's process wrote `data` (the part kept under the cap) to stdout or stderr.
  std::function<void(Job&, std::size_t index, bool is_stderr, std::string_view data)> output;
};

class JobRunner {
 public:
  // `exec_kill_grace_ms`: how long a cancelled exec step's process group gets between SIGTERM
  // and SIGKILL. `allow_exec`: whether exec steps may run; checked as each one starts (a job
  // stored by a daemon that allowed them may be run by one that does not).
  JobRunner(RunnerHooks hooks, std::int64_t exec_kill_grace_ms, bool allow_exec);
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;
  ~JobRunner();

  // Starts a pending job (it becomes running: one more attempt).
  void start(std::shared_ptr<Job> job);
  // Cancels the running job, or just one of its steps. False if it (or the step) is not running.
  bool cancel(std::uint64_t id);
  bool cancel_step(std::uint64_t id, std::size_t index);
  // Cancels the running job so that it ends timed_out (its timeout expired).
  bool time_out(std::uint64_t id);
  bool running(std::uint64_t id) const { return runs_.contains(id); }
  std::size_t size() const { return runs_.size(); }
  // For a loop that is going away, whose tasks will never resume: SIGKILL to the process group
  // of every exec step still running, and every handle dropped so the frames can be destroyed.
  void abandon_all();

  struct Run;  // one running job with its tasks (runner/src/run.hpp)

 private:
  void ended(const std::shared_ptr<Run>& run);

  RunnerHooks hooks_;
  std::int64_t exec_kill_grace_ms_;
  bool allow_exec_;
  std::unordered_map<std::uint64_t, std::shared_ptr<Run>> runs_;
};

}  // namespace uasyncd::server
