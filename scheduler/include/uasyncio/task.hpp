// Task<T>: a coroutine scheduled on the loop (§2, §3, §6, §7), create_task and run.
//
//   ua::Task<int> t = ua::create_task(compute());  // queued; runs when the creator yields
//   int v = co_await t;                            // its value, or its exception rethrown
//   t.cancel();                                    // CancelledError at its await point
//
// Lifetime: see AnyTask. A task runs to its end even if every handle is dropped; awaiting a task
// keeps it alive until the awaiter has its result.
// Thread rules: on the thread of the task's loop.
#pragma once

#include <coroutine>
#include <exception>
#include <type_traits>
#include <utility>

#include "uasyncio/any_task.hpp"
#include "uasyncio/coro.hpp"
#include "uasyncio/detail/parking.hpp"
#include "uasyncio/detail/scheduler.hpp"
#include "uasyncio/errors.hpp"
#include "uasyncio/loop.hpp"

namespace uasyncio {

template <class T = void>
class Task : public AnyTask {
 public:
  using value_type = T;

  // An empty handle.
  Task() = default;
  explicit Task(detail::Promise<T>* p) noexcept : AnyTask(p) {}
  Task(detail::Promise<T>* p, detail::AdoptRef a) noexcept : AnyTask(p, a) {}

  // The task's return value, or its exception rethrown; RuntimeError("result is not ready") if
  // it has not finished. Marks the result as retrieved (no "exception wasn't retrieved" report).
  // A copyable value can be had any number of times; a move-only one (a Lock::Guard, a
  // unique_ptr) is moved out, so only the first caller gets it.
  T result() const {
    detail::TaskHeader* h = header();
    if (!h->finished) [[unlikely]]
      detail::throw_not_ready();
    h->retrieved = true;
    if (h->error) [[unlikely]]
      detail::rethrow_error(h);
    if constexpr (std::is_copy_constructible_v<T>) {
      return promise().value;
    } else if constexpr (!std::is_void_v<T>) {
      return std::move(promise().value);
    }
  }

  // §7, `await task`: suspends until the task finishes unless it already has, then gives its
  // value or rethrows its exception (the same object each time, §7.2). RuntimeError("can't
  // wait") for a task registered in a running gather (§7.3). A cancel of the awaiting task is
  // forwarded to the awaited one (§6.3).
  class Awaiter : public detail::Parking<detail::Waiter> {
   public:
    explicit Awaiter(Task task) noexcept : task_(std::move(task)) {}
    bool await_ready() const {
      detail::TaskHeader* t = task_.header();
      if (t->finished) return true;
      if (t->in_gather) throw RuntimeError("can't wait");  // §7.3
      return false;
    }
    bool await_suspend(std::coroutine_handle<> h) {
      detail::Scheduler& s = detail::current_scheduler();
      detail::TaskHeader* awaited = task_.header();
      s.park_awaiting(awaited, node_, h);
      return s.run_awaited(awaited);
    }
    T await_resume() {
      raise_if_cancelled();
      return task_.result();
    }

   private:
    Task task_;
  };
  Awaiter operator co_await() const& noexcept { return Awaiter(*this); }
  // A temporary handle (`co_await create_task(...)`) is moved in: no reference count traffic.
  Awaiter operator co_await() && noexcept { return Awaiter(std::move(*this)); }

 private:
  detail::Promise<T>& promise() const noexcept {
    return *static_cast<detail::Promise<T>*>(header());
  }
};

namespace detail {
// Makes `coro` a task of `s`, queued to run (§3). Inlined: a task is created per create_task(),
// and the call would cost as much as the body.
template <class T>
[[gnu::always_inline]] inline Task<T> create_task_on(Scheduler& s, Coro<T> coro) {
  auto h = coro.release();
  Promise<T>& p = h.promise();
  p.is_task = true;
  p.resume_point = h;
  p.refs = 2;  // the scheduler's (until the task has finished) and the returned handle's
  s.schedule_now(&p);
  return Task<T>(&p, AdoptRef{});
}
}  // namespace detail

template <class T>
[[gnu::always_inline]] inline Task<T> Loop::create_task(Coro<T> coro) {
  return detail::create_task_on(scheduler_, std::move(coro));
}

template <class T>
T Loop::run_until_complete(Task<T> main) {
  scheduler_.run_until_finished(main.header());
  // A nested run is an await point of the task that called it: a cancel that arrived meanwhile
  // is raised here rather than after that task's next wait.
  detail::throw_if_pending();
  return main.result();
}

template <class T>
T Loop::run_until_complete(Coro<T> main) {
  return run_until_complete(create_task(std::move(main)));
}

// §3, asyncio.create_task(coro): schedules `coro` as a new task of the calling thread's loop; it
// first runs when the creating task yields (or at the next run() if no loop is running).
template <class T>
[[gnu::always_inline]] inline Task<T> create_task(Coro<T> coro) {
  return detail::create_task_on(detail::current_scheduler(), std::move(coro));
}

// §4.6, asyncio.run(coro): runs `coro` as the main task until it finishes; returns its value or
// rethrows. Called inside a running task it drives the same loop until `coro` ends (§4.8).
template <class T>
T run(Coro<T> coro) {
  Loop& loop = detail::current_scheduler().loop();
  return loop.run_until_complete(loop.create_task(std::move(coro)));
}

}  // namespace uasyncio
