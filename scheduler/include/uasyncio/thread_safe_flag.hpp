// ThreadSafeFlag (§13): MicroPython's asyncio.ThreadSafeFlag, a flag that any thread may set,
// waking the one task that waits on it.
//
//   ua::ThreadSafeFlag flag;           // made on the loop's thread
//   std::thread([&] { flag.set(); });  // any thread
//   co_await flag.wait();              // clears the flag on return
//   co_await ua::wait_for(flag.wait(), 1);
//
// As in MicroPython, the waiter is woken by the loop's poll before the next step after set()
// (§13.2): it runs after the tasks that were already ready, and before any made ready later.
// The loop looks at a flag with a waiter before every step without a system call; set() from
// another thread also pokes a uv_async_t, so that a loop blocked in its poll wakes up. The async
// handle keeps the loop alive only while a task waits, so a loop with nothing else to do still
// reports a deadlock instead of hanging.
//
// Lifetime: made on, and destroyed on, the loop's thread; it must outlive any task waiting on it
// and any thread that may still call set().
#pragma once

#include <uv.h>

#include <atomic>
#include <coroutine>

#include "uasyncio/detail/parking.hpp"
#include "uasyncio/detail/scheduler.hpp"
#include "uasyncio/detail/wait_list.hpp"

namespace uasyncio {

class ThreadSafeFlag {
  struct Node : detail::ParkedWaiter {
    bool woken = false;  // by a set(), as opposed to by a cancel
  };

 public:
  // The awaitable of wait().
  class Awaiter : public detail::Parking<Node> {
   public:
    explicit Awaiter(ThreadSafeFlag& flag) noexcept : flag_(&flag) {}
    Awaiter(Awaiter&& o) noexcept : Parking(std::move(o)), flag_(o.flag_) {}
    // A frame destroyed while it waits must not keep the loop alive.
    ~Awaiter() {
      if (waiting_) flag_->stop_waiting();
    }
    bool await_ready() { return flag_->try_consume(); }
    void await_suspend(std::coroutine_handle<> h) {
      flag_->start_waiting(*this, h);
      waiting_ = true;
    }
    void await_resume() {
      if (!waiting_) return;
      waiting_ = false;
      flag_->finish_wait(node_);
    }

   private:
    friend class ThreadSafeFlag;
    ThreadSafeFlag* flag_;
    bool waiting_ = false;
  };

  // On the thread of the loop the flag is used with.
  ThreadSafeFlag();
  ~ThreadSafeFlag();
  ThreadSafeFlag(const ThreadSafeFlag&) = delete;
  ThreadSafeFlag& operator=(const ThreadSafeFlag&) = delete;

  // §13.1, flag.set(): safe from any thread (not from a signal handler). Several set() calls
  // before the waiter runs count as one. On the loop's thread it costs no system call.
  void set() noexcept;
  // flag.clear()
  void clear() noexcept { flag_.store(false, std::memory_order_relaxed); }
  // §13.2, `await flag.wait()`: returns at once (clearing the flag) if it is set, else waits for
  // set(). Only one task may wait at a time: a second one gets RuntimeError.
  [[nodiscard]] Awaiter wait() noexcept { return Awaiter(*this); }

 private:
  // What the scheduler looks at before every step while a task waits.
  struct Watch : detail::PollSource {
    ThreadSafeFlag* flag = nullptr;
  };

  static void on_async(uv_async_t* handle);
  static void poll(detail::PollSource* source);
  void wake_if_set() noexcept;
  bool try_consume();
  void start_waiting(Awaiter& awaiter, std::coroutine_handle<> h);
  void stop_waiting() noexcept;
  void finish_wait(Node& node);

  detail::Scheduler& scheduler_;
  // Heap-allocated: libuv needs the handle until its close callback, which may run after the
  // flag is gone.
  uv_async_t* async_;
  std::atomic<bool> flag_{false};
  detail::WaitList waiting_;  // at most one node
  Watch watch_;
};

}  // namespace uasyncio
