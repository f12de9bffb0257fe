// uasyncio: MicroPython's asyncio in C++20 on libuv. One header per concept; this one has them all.
#pragma once

#include "uasyncio/any_task.hpp"
#include "uasyncio/coro.hpp"
#include "uasyncio/errors.hpp"
#include "uasyncio/gather.hpp"
#include "uasyncio/loop.hpp"
#include "uasyncio/outcome.hpp"
#include "uasyncio/sleep.hpp"
#include "uasyncio/task.hpp"
#include "uasyncio/version.hpp"
#include "uasyncio/wait_for.hpp"
