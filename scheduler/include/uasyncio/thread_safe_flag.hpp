// ThreadSafeFlag (§13): a flag that any thread may set, waking the one task that waits on it.
//
//   ua::ThreadSafeFlag flag;           // created on the loop's thread
//   std::thread([&] { flag.set(); });  // any thread
//   co_await flag.wait();              // clears the flag on return
//
// set() only raises an atomic flag and pokes a uv_async_t; the loop's I/O poll then queues the
// waiting task. The async handle keeps the loop alive only while a task waits, so a loop with
// nothing else to do still reports a deadlock instead of hanging.
#pragma once

#include <uv.h>

#include <atomic>
#include <coroutine>

#include "uasyncio/detail/park.hpp"
#include "uasyncio/detail/wait_list.hpp"
#include "uasyncio/loop.hpp"

namespace uasyncio {

class ThreadSafeFlag {
  struct Node : detail::Waiter {
    Node() : Waiter(nullptr) {}
    bool woken = false;  // by a set(), as opposed to by a cancel
  };

 public:
  class Awaiter {
   public:
    explicit Awaiter(ThreadSafeFlag& flag) noexcept : flag_(flag) {}
    Awaiter(const Awaiter&) = delete;
    Awaiter& operator=(const Awaiter&) = delete;
    // A frame destroyed while it waits must not keep the loop alive.
    ~Awaiter() {
      if (waiting_) flag_.stop_waiting();
    }
    bool await_ready() { return flag_.try_consume(); }
    void await_suspend(std::coroutine_handle<> h) {
      flag_.start_waiting(node_, h);
      waiting_ = true;
    }
    void await_resume() {
      if (!waiting_) return;
      waiting_ = false;
      flag_.finish_wait(node_);
    }

   private:
    ThreadSafeFlag& flag_;
    Node node_;
    bool waiting_ = false;
  };

  // Must be called on the thread of the loop the flag is used with. The flag must outlive any
  // task waiting on it.
  ThreadSafeFlag();
  ~ThreadSafeFlag();
  ThreadSafeFlag(const ThreadSafeFlag&) = delete;
  ThreadSafeFlag& operator=(const ThreadSafeFlag&) = delete;

  // Safe from any thread (not from a signal handler). Several set() calls before the waiter runs
  // count as one.
  void set() noexcept;
  void clear() noexcept { flag_.store(false, std::memory_order_relaxed); }
  // §13.2: returns at once (clearing the flag) if it is set, else waits for set(). Only one task
  // may wait at a time: a second one gets RuntimeError.
  [[nodiscard]] Awaiter wait() noexcept { return Awaiter(*this); }

 private:
  static void on_async(uv_async_t* handle);
  bool try_consume();
  void start_waiting(Node& node, std::coroutine_handle<> h);
  void stop_waiting() noexcept;
  void finish_wait(Node& node);

  Loop& loop_;
  // Heap-allocated: libuv needs the handle until its close callback, which may run after the
  // flag is gone.
  uv_async_t* async_;
  std::atomic<bool> flag_{false};
  detail::WaitList waiting_;  // at most one node
};

}  // namespace uasyncio
