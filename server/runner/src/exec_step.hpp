// The exec step: runs a command in its own process group, captures its output and, when the
// step is cancelled, takes the whole group down (SIGTERM, then SIGKILL after the grace).
#pragma once

#include <nlohmann/json.hpp>
#include <uasyncio/uasyncio.hpp>

#include <cstddef>
#include <memory>
#include <stdexcept>

#include "run.hpp"

namespace uasyncd::server {

// A command that ran but did not succeed (Python's CalledProcessError); it carries the step's
// result (exit code and output), which a failed step still shows.
class ExecFailure : public std::runtime_error {
 public:
  ExecFailure(const std::string& message, nlohmann::json result)
      : std::runtime_error(message), result(std::move(result)) {}
  nlohmann::json result;
};

uasyncio::Coro<nlohmann::json> run_exec(std::shared_ptr<JobRunner::Run> run, std::size_t index);

// SIGKILL to the process group of every exec step of the job still running.
void kill_running_execs(Job& job);

}  // namespace uasyncd::server
