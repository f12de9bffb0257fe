// Task<T>: a coroutine scheduled on the loop (§2, §3, §6, §7), and create_task / run.
#pragma once

#include <coroutine>
#include <exception>
#include <type_traits>
#include <utility>

#include "uasyncio/any_task.hpp"
#include "uasyncio/coro.hpp"
#include "uasyncio/errors.hpp"
#include "uasyncio/loop.hpp"

namespace uasyncio {

template <class T = void>
class Task : public AnyTask {
 public:
  using value_type = T;

  Task() = default;
  explicit Task(detail::Promise<T>* p) noexcept : AnyTask(p) {}
  Task(detail::Promise<T>* p, detail::AdoptRef a) noexcept : AnyTask(p, a) {}

  // The task's return value, or its exception rethrown; RuntimeError if it has not finished.
  // Marks the result as retrieved (no "exception wasn't retrieved" report).
  T result() const {
    if (!h_->finished) [[unlikely]]
      detail::throw_not_ready();
    h_->retrieved = true;
    if (h_->error) [[unlikely]]
      detail::rethrow_error(h_);
    if constexpr (!std::is_void_v<T>) return promise().value;
  }

  class Awaiter {
   public:
    explicit Awaiter(Task task) noexcept : task_(std::move(task)) {}
    bool await_ready() const {
      detail::TaskHeader* t = task_.header();
      if (t->finished) return true;
      if (t->in_gather) throw RuntimeError("can't wait");  // §7.3
      return false;
    }
    bool await_suspend(std::coroutine_handle<> h) {
      Loop& loop = detail::current_loop();
      detail::TaskHeader* self = loop.current();
      detail::TaskHeader* awaited = task_.header();
      waiter_.task = self;
      waiter_.awaited = awaited;
      awaited->awaiters.push_back(&waiter_);
      self->waiting_on = &waiter_;
      self->resume_point = h;
      return loop.run_awaited(awaited);
    }
    T await_resume() {
      if (waiter_.task != nullptr) detail::throw_if_pending(detail::current_loop());
      return task_.result();
    }

   private:
    Task task_;
    detail::Waiter waiter_{nullptr};
  };
  // §7: the task's value or exception; suspends until it finishes unless it already has.
  Awaiter operator co_await() const& noexcept { return Awaiter(*this); }
  // A temporary handle (`co_await create_task(...)`) is moved in: no reference count traffic.
  Awaiter operator co_await() && noexcept { return Awaiter(std::move(*this)); }

 private:
  detail::Promise<T>& promise() const noexcept { return *static_cast<detail::Promise<T>*>(h_); }
};

// Inlined: a task is created per create_task(), and the call would cost as much as the body.
template <class T>
[[gnu::always_inline]] inline Task<T> Loop::create_task(Coro<T> coro) {
  auto h = coro.release();
  detail::Promise<T>& p = h.promise();
  p.is_task = true;
  p.resume_point = h;
  p.refs = 2;  // the scheduler's (until the task has finished) and the returned handle's
  schedule_now(&p);
  return Task<T>(&p, detail::AdoptRef{});
}

template <class T>
T Loop::run_until_complete(Task<T> main) {
  run_until_finished(main.header());
  // A nested run is an await point of the task that called it: a cancel that arrived meanwhile
  // is raised here rather than after that task's next wait.
  detail::throw_if_pending(*this);
  return main.result();
}

template <class T>
T Loop::run_until_complete(Coro<T> main) {
  return run_until_complete(create_task(std::move(main)));
}

// §3: schedules `coro` as a new task; it first runs when the creating task yields (or at the next
// run() if no loop is running).
template <class T>
[[gnu::always_inline]] inline Task<T> create_task(Coro<T> coro) {
  return detail::current_loop().create_task(std::move(coro));
}

// §4.6: runs `coro` as the main task until it finishes; returns its value or rethrows.
// Called inside a running task it drives the same loop until `coro` ends (§4.8).
template <class T>
T run(Coro<T> coro) {
  Loop& loop = detail::current_loop();
  return loop.run_until_complete(loop.create_task(std::move(coro)));
}

// §14: the running task; RuntimeError("no running event loop") outside of one.
AnyTask current_task();

}  // namespace uasyncio
