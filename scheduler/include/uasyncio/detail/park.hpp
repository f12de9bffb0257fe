// Suspending the running task in a wait list, the one way every waiting primitive blocks.
#pragma once

#include <coroutine>

#include "uasyncio/detail/task_header.hpp"
#include "uasyncio/detail/wait_list.hpp"
#include "uasyncio/loop.hpp"

namespace uasyncio::detail {

// Links the running task into `list` through `w` (a node in the awaiting frame, so nothing is
// allocated) and records `h` as where it resumes. Loop::wake(&w) resumes it later; a cancel finds
// the node through waiting_on and unlinks it (§6.4).
inline void park(WaitList& list, Waiter& w, std::coroutine_handle<> h) {
  TaskHeader* self = current_loop().current();
  w.task = self;
  list.push_back(&w);
  self->waiting_on = &w;
  self->resume_point = h;
}

}  // namespace uasyncio::detail
