// Following a task's exec output live: GET /api/tasks/{id}/output?follow=1, an SSE stream that
// first repeats what the steps wrote so far, then passes on each piece as it is written, and ends
// with the task.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "uasyncd/cli/connection.hpp"

namespace uasyncd::cli {

struct OutputChunk {
  std::string step;  // the exec step's id, "t3.1"
  bool is_stderr = false;
  std::string data;  // bytes as the process wrote them (UTF-8 made valid by the daemon)
};

struct FollowEnd {
  std::optional<std::string> state;  // the task's final state; none if the stream was stopped
  std::size_t lost = 0;              // pieces the daemon dropped because the client fell behind
};

// Calls `on_output` (on this thread) for every piece until the task ends, or until
// connection.stop(). A refusal (404: no such task; 400: a step that is not an exec step; 503:
// too many streams) throws DaemonError; a broken connection CliError.
FollowEnd follow_output(Connection& connection, const std::string& id,
                        const std::function<void(const OutputChunk&)>& on_output);

// Writes a piece to our own stdout or stderr, as the process wrote it.
void write_chunk(const OutputChunk& chunk);

}  // namespace uasyncd::cli
