// current_task (§14): MicroPython's asyncio.current_task().
#pragma once

#include "uasyncio/any_task.hpp"

namespace uasyncio {

// The running task; RuntimeError("no running event loop") outside of one (§14.1).
// Thread rules: the task running on the calling thread's loop.
AnyTask current_task();

}  // namespace uasyncio
