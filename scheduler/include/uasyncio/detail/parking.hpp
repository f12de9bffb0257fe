// The one awaiter base of the library: every awaitable that blocks the running task until
// something else wakes it (Event, Lock, ThreadSafeFlag, Queue, gather, Process.wait, a stream's
// reads and writes, awaiting a Task) derives from Parking. It holds the wait-list node, which
// lives in the awaiting frame (waiting allocates nothing), parks the task, and at resumption
// raises what a cancel (or wait_for) left for it.
//
//   class MyAwaiter : detail::Parking<> {
//    public:
//     bool await_ready() { return condition(); }
//     void await_suspend(std::coroutine_handle<> h) { park(list_, h); }
//     T await_resume() { raise_if_cancelled(); return ...; }
//   };
//
// Lifetime: an awaiter may be moved only before it is awaited (wait_for and gather move it into
// the task that awaits it); the node is linked only while the task is parked, and unlinks itself
// if the frame is destroyed meanwhile.
// Thread rules: on the thread of the loop that runs the awaiting task.
#pragma once

#include <coroutine>

#include "uasyncio/detail/scheduler.hpp"
#include "uasyncio/detail/wait_list.hpp"

namespace uasyncio::detail {

// What every awaiter of the library derives from (publicly): gather and wait_for take any
// awaitable that does (`co_await wait_for(ev.wait(), 1)`), running it in a task of its own.
struct AwaiterBase {};

template <class Node = ParkedWaiter>
class Parking : public AwaiterBase {
 public:
  Parking() = default;
  Parking(Parking&&) noexcept {}  // a fresh node: the one moved from was not linked yet
  Parking(const Parking&) = delete;
  Parking& operator=(const Parking&) = delete;
  Parking& operator=(Parking&&) = delete;

 protected:
  ~Parking() = default;

  // Parks the running task in `list` until Scheduler::wake (or a cancel) queues it again.
  void park(WaitList& list, std::coroutine_handle<> h, ParkKind kind = ParkKind::primitive) {
    current_scheduler().park(list, node_, h, kind);
  }
  // True once the task was parked (the awaiter did suspend).
  bool parked() const noexcept { return node_.task != nullptr; }
  // At resumption: raises the exception a cancel (or wait_for) left for the task, if it parked
  // (the task resuming here is the one that parked, so no lookup of the running task is needed).
  void raise_if_cancelled() const {
    TaskHeader* t = node_.task;
    if (t != nullptr && t->error) [[unlikely]]
      rethrow_pending(t);
  }

  Node node_;
};

// Queues every task waiting in `list` (from a libuv callback or another task: enqueue only).
inline void wake_all(Scheduler& s, WaitList& list) noexcept {
  while (Waiter* w = list.front())
    s.wake(w);
}

}  // namespace uasyncio::detail
