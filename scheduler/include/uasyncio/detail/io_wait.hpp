// The awaitable every I/O wait uses: the task parks in a WaitList owned by the I/O object until a
// libuv callback wakes it (Loop::wake) or a cancel unlinks it (§6.4). The node lives in the
// awaiting frame, so waiting never allocates, and a destroyed frame leaves no dangling node.
#pragma once

#include <coroutine>

#include "uasyncio/detail/wait_list.hpp"
#include "uasyncio/loop.hpp"

namespace uasyncio::detail {

class IoWait {
 public:
  explicit IoWait(WaitList& list) noexcept : list_(list) {}
  IoWait(const IoWait&) = delete;
  IoWait& operator=(const IoWait&) = delete;

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    Loop& loop = current_loop();
    TaskHeader* self = loop.current();
    waiter_.task = self;
    list_.push_back(&waiter_);
    self->waiting_on = &waiter_;
    self->resume_point = h;
  }
  // The caller re-checks its condition: a wake only means "look again".
  void await_resume() { throw_if_pending(current_loop()); }

 private:
  WaitList& list_;
  Waiter waiter_{nullptr};
};

// Queues every task waiting in `list` (from a libuv callback: enqueue only).
inline void wake_all(Loop& loop, WaitList& list) {
  while (Waiter* w = list.front())
    loop.wake(w);
}

}  // namespace uasyncio::detail
