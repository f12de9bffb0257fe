// The engine: runs a task's spec tree as uasyncio coroutines on the calling thread's loop.
// Every step below the root runs as its own uasyncio task, so each step id can be cancelled on
// its own (a cancelled child of a gather is just that child, as in the seed's gather example).
#pragma once

#include <uasyncio/uasyncio.hpp>

#include <cstdint>
#include <memory>

#include "uasyncd/api/task_record.hpp"

namespace uasyncd::api {

// Starts `task` as a uasyncio task (state running); its observer hears start and finish.
void start_task(const std::shared_ptr<TaskRecord>& task);

// Cancels the task, or (a step id) just that step. False if it is not running.
bool cancel_task(TaskRecord& task);
bool cancel_step(TaskRecord& task, std::size_t index);

// SIGKILL to the process group of every exec step of `task` still running: for a loop that is
// going away, whose steps will never resume to stop their processes themselves.
void kill_running_execs(TaskRecord& task);

// Times the task out `ms` from now: it then ends timed_out (a running one is cancelled).
// Replaces an earlier timeout. Pending tasks are handled by the caller when it fires.
void set_task_timeout(const std::shared_ptr<TaskRecord>& task, std::int64_t ms,
                      std::function<void(TaskRecord&)> on_pending_expiry);

}  // namespace uasyncd::api
