// One running job and the uasyncio tasks running it: shared by the frames of its steps, so that a
// step left behind after the job ended (a gather that raised) can still look at its job.
#pragma once

#include <nlohmann/json.hpp>
#include <uasyncio/uasyncio.hpp>

#include <memory>
#include <vector>

#include "uasyncd/job/job.hpp"
#include "uasyncd/runner/job_runner.hpp"

namespace uasyncd::server {

struct JobRunner::Run {
  std::shared_ptr<Job> job;
  const RunnerHooks* hooks = nullptr;
  std::int64_t exec_kill_grace_ms = 5000;
  bool allow_exec = false;
  uasyncio::Task<void> root;
  // By step index, while the step may run: each step's own task (none for the root step when it
  // runs inside `root`, the job having no timeout).
  std::vector<uasyncio::Task<nlohmann::json>> steps;
  bool timing_out = false;  // a cancel now means the job's timeout expired
  // A task cancelled before its first turn never runs its body (uasyncio, as Python), so a
  // cancel until `root` has entered its body is noted here instead, and the body ends at once.
  bool entered = false;
  bool cancelled_before_entry = false;
  bool ended = false;
};

}  // namespace uasyncd::server
