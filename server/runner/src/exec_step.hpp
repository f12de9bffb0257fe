// The exec step: runs a command in its own process group, captures its output and, when the
// step is cancelled, takes the whole group down (SIGTERM, then SIGKILL after the grace).
#pragma once

#include <nlohmann/json.hpp>
#include <uasyncio/uasyncio.hpp>

#include <cstddef>
#include <memory>

#include "uasyncd/api/task_record.hpp"

namespace uasyncd::api {

uasyncio::Coro<nlohmann::json> run_exec(std::shared_ptr<TaskRecord> task, std::size_t index);

}  // namespace uasyncd::api
