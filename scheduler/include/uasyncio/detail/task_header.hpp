// The per-task bookkeeping every coroutine promise starts with. A task is its root coroutine
// frame: the header lives inside that frame's promise, so creating a task costs exactly one
// allocation (the frame). Inline coroutines (`co_await coro`) carry the same header but only use
// `resume_point` (as their continuation), `error` and the flags.
//
// Lifetime: a task's frame is reference counted (`refs`): the scheduler holds one reference from
// create_task until the task has finished (and its unretrieved exception, if any, was reported),
// and every Task/AnyTask handle one more; the last release destroys the frame.
// Thread rules: a header belongs to its loop's thread.
#pragma once

#include <coroutine>
#include <cstdint>
#include <exception>
#include <new>

#include "uasyncio/detail/wait_list.hpp"

namespace uasyncio::detail {

class GatherCore;

struct TaskHeader {
  TaskHeader() : awaiters() {}
  TaskHeader(const TaskHeader&) = delete;
  TaskHeader& operator=(const TaskHeader&) = delete;
  ~TaskHeader() {
    if (in_gather) return;
    awaiters.~WaitList();
  }

  // Task: the innermost suspended frame, resumed when the task next runs.
  // Inline coroutine: the frame that awaits it (its continuation).
  std::coroutine_handle<> resume_point;
  // What a suspended task is linked into; cancel() unlinks it from there (§6.4).
  Waiter* waiting_on = nullptr;
  // Before the task finishes: an exception to throw at its next await point (a cancel).
  // Once finished: the exception that ended it, or null.
  std::exception_ptr error;
  union {
    WaitList awaiters;   // tasks awaiting this one (§7.1)
    GatherCore* gather;  // the gather this task is registered in (§10), when in_gather
  };
  union {
    TaskHeader* next_ready;    // link in the ready queue, while queued there
    std::uint32_t heap_index;  // slot in the timer heap, when in_heap
  };
  std::uint32_t refs = 0;
  bool is_task : 1 = false;  // root of a task (not an inline coroutine)
  bool started : 1 = false;
  bool finished : 1 = false;
  bool retrieved : 1 = false;  // its result or exception was taken (§2.1 state False)
  bool in_gather : 1 = false;
  bool in_heap : 1 = false;
  bool is_main : 1 = false;         // main task of a running run_until_complete (§4.5a)
  bool report_pending : 1 = false;  // re-queued to report an unretrieved exception (§8.1)
  bool bounce : 1 = false;          // the scheduler must resume resume_point again at once
  bool parent_waiting : 1 = false;  // inline coroutine whose parent suspended on it
  bool has_value : 1 = false;       // the typed promise holds a return value

  void set_gather(GatherCore* g) {
    awaiters.~WaitList();
    gather = g;
    in_gather = true;
  }
  void clear_gather() {
    in_gather = false;
    new (&awaiters) WaitList();
  }
};

// Destroys the coroutine frame that holds `h` (the header is the start of its promise).
inline void destroy_task_frame(TaskHeader* h) noexcept {
  // The header starts the promise, and g++ places a promise of alignment <= 16 right after the
  // frame's two function pointers; __builtin_coro_promise does that arithmetic.
  void* frame = __builtin_coro_promise(reinterpret_cast<char*>(h), 16, true);
  std::coroutine_handle<>::from_address(frame).destroy();
}

// For IntrusivePtr<TaskHeader> (AnyTask): the last reference destroys the frame.
inline void intrusive_add_ref(TaskHeader* h) noexcept {
  ++h->refs;
}
inline void intrusive_release(TaskHeader* h) noexcept {
  if (--h->refs == 0) destroy_task_frame(h);
}

}  // namespace uasyncio::detail
