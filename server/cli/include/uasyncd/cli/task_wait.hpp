// Waiting for a task to end with the daemon's long-poll, GET /api/tasks/{id}/wait?timeout=S: the
// daemon answers the moment the task ends, so waiting costs one request per 300 s, not a poll.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <string>

#include "uasyncd/cli/connection.hpp"

namespace uasyncd::cli {

struct WaitOutcome {
  nlohmann::json record;  // the task's record: final if `finished`, else as it was at the deadline
  bool finished = false;
};

// Waits until task (or step) `id` has ended, or until `deadline` if one is given. A task the
// daemon does not know throws DaemonError (404).
WaitOutcome wait_for_task(Connection& connection, const std::string& id,
                          std::optional<std::chrono::steady_clock::time_point> deadline);

}  // namespace uasyncd::cli
