// wait_for / wait_for_ms (§9): MicroPython's asyncio.wait_for(aw, timeout) and
// wait_for_ms(aw, timeout): await `aw`, but cancel it if it takes longer than the timeout.
//
//   int v = co_await ua::wait_for(compute(), 1.5);        // TimeoutError after 1.5 s
//   co_await ua::wait_for(ev.wait(), 1);                  // any awaitable of the library
//   int x = co_await ua::wait_for_ms(q.get(), 500);       // no item is lost on a timeout
//   co_await ua::wait_for(lock.acquire(), 0.2);
//   co_await ua::wait_for(task, ua::None{});              // no timeout: just awaits (§9.2)
//   co_await ua::wait_for(task, std::optional<double>{}); // the same
//
// `aw` is anything AwaitableArgument admits (awaitable.hpp). As in MicroPython it runs as a task
// and a runner task awaits it; the caller sleeps for the timeout. Whichever ends first decides:
// the runner wakes the sleeping caller with a private CancelledError and the caller returns or
// raises exactly what awaiting `aw` did (§9.4, §9.5), or the sleep ends, `aw` is cancelled, the
// caller waits until it has really finished, and TimeoutError is raised (§9.6). A cancel of the
// caller cancels `aw` and raises at once (§9.7).
//
// Lifetime: wait_for owns `aw` (a task given to it runs on whatever the outcome). Nothing runs
// until the returned coroutine is awaited (§9.1). Thread rules: on the loop's thread.
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "uasyncio/awaitable.hpp"
#include "uasyncio/coro.hpp"
#include "uasyncio/current_task.hpp"
#include "uasyncio/errors.hpp"
#include "uasyncio/outcome.hpp"
#include "uasyncio/sleep.hpp"
#include "uasyncio/task.hpp"

namespace uasyncio {
namespace detail {

// What the caller and its runner share. The runner may outlive the caller's wait_for (§9.7),
// so this lives on the heap rather than in either frame.
template <class T>
struct WaitForLink {
  // The CancelledError the runner wakes the caller with when aw ends first.
  std::exception_ptr aw_finished = std::make_exception_ptr(CancelledError{});
  // What awaiting aw gave: its value, or the exception the await raised (§9.5: whatever it was,
  // "can't wait" included).
  std::optional<value_or_none_t<T>> value;
  std::exception_ptr error;
  bool caller_waiting = true;
};

template <class T>
Coro<void> wait_for_runner(AnyTask waiter, Task<T> aw, std::shared_ptr<WaitForLink<T>> link) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await aw;
      link->value.emplace();
    } else {
      link->value.emplace(co_await aw);
    }
  } catch (...) {  // NOLINT: any outcome of aw, CancelledError included, is the caller's to see
    link->error = std::current_exception();
  }
  TaskHeader* w = waiter.header();
  // Only a caller still asleep in its timeout is woken; one already woken (by its own cancel
  // or by the timeout), waiting for this runner, or gone from this wait_for decides for itself.
  // (MicroPython would cancel a caller that has moved on, wherever it sleeps next.)
  if (link->caller_waiting && !w->finished && !w->error && w->waiting_on == nullptr) {
    current_scheduler().cancel_with(w, link->aw_finished);
  }
}

template <class T>
Coro<T> wait_for_ms_impl(Task<T> aw, std::int64_t timeout_ms) {
  auto link = std::make_shared<WaitForLink<T>>();
  struct LeaveOnExit {
    WaitForLink<T>& link;
    ~LeaveOnExit() { link.caller_waiting = false; }
  } leave{*link};
  Task<void> runner = create_task(wait_for_runner(current_task(), aw, link));
  bool aw_first = false;
  try {
    co_await sleep_ms(timeout_ms);
  } catch (const CancelledError&) {
    if (std::current_exception() != link->aw_finished) {
      // §9.7: wait_for itself was cancelled: cancel aw and leave at once.
      runner.cancel();
      throw;
    }
    aw_first = true;
  }
  if (aw_first) {
    // §9.4, §9.5: what awaiting aw gave, exactly.
    if (link->error) std::rethrow_exception(link->error);
    if constexpr (std::is_void_v<T>) {
      co_return;
    } else {
      co_return std::move(*link->value);
    }
  }
  // §9.6: the timeout came first: cancel aw, wait until it has really ended, then time out.
  runner.cancel();
  co_await runner;
  throw TimeoutError();
}

// §9.2: no timeout: the promoted task is awaited.
template <class T>
Coro<T> await_promoted(Task<T> aw) {
  co_return co_await std::move(aw);
}

}  // namespace detail

// §9, wait_for_ms(aw, ms): awaits `aw` for at most `timeout_ms` milliseconds.
template <AwaitableArgument A>
Coro<result_of_t<A>> wait_for_ms(A aw, std::int64_t timeout_ms) {
  Task<result_of_t<A>> task = detail::promote(std::move(aw));
  co_return co_await detail::wait_for_ms_impl(std::move(task), timeout_ms);
}

// §9, wait_for(aw, seconds): awaits `aw` for at most `timeout_s` seconds (truncated to
// milliseconds, as sleep()).
template <AwaitableArgument A>
Coro<result_of_t<A>> wait_for(A aw, double timeout_s) {
  Task<result_of_t<A>> task = detail::promote(std::move(aw));
  co_return co_await detail::wait_for_ms_impl(std::move(task), seconds_to_ms(timeout_s));
}

// §9.2, wait_for(aw, None): no timeout; `aw` is promoted to a task and awaited.
template <AwaitableArgument A>
Coro<result_of_t<A>> wait_for(A aw, None) {
  Task<result_of_t<A>> task = detail::promote(std::move(aw));
  co_return co_await detail::await_promoted(std::move(task));
}
template <AwaitableArgument A>
Coro<result_of_t<A>> wait_for_ms(A aw, None) {
  return wait_for(std::move(aw), None{});
}

// A timeout that may be None: std::nullopt awaits without one.
template <AwaitableArgument A>
Coro<result_of_t<A>> wait_for(A aw, std::optional<double> timeout_s) {
  if (timeout_s) return wait_for(std::move(aw), *timeout_s);
  return wait_for(std::move(aw), None{});
}
template <AwaitableArgument A>
Coro<result_of_t<A>> wait_for_ms(A aw, std::optional<std::int64_t> timeout_ms) {
  if (timeout_ms) return wait_for_ms(std::move(aw), *timeout_ms);
  return wait_for(std::move(aw), None{});
}

}  // namespace uasyncio
