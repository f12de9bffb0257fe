// wait_for / wait_for_ms (§9): await `aw`, but cancel it if it takes longer than the timeout.
//
// As in MicroPython, `aw` runs as a task and a runner task awaits it; the caller sleeps for the
// timeout. Whichever ends first decides: the runner wakes the sleeping caller with a private
// CancelledError (aw's outcome is then returned or raised), or the sleep ends, aw is cancelled,
// the caller waits until aw has really finished, and TimeoutError is raised.
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <utility>

#include "uasyncio/coro.hpp"
#include "uasyncio/errors.hpp"
#include "uasyncio/gather.hpp"
#include "uasyncio/sleep.hpp"
#include "uasyncio/task.hpp"

namespace uasyncio {
namespace detail {

// What the caller and its runner share. The runner may outlive the caller's wait_for (§9.7),
// so this lives on the heap rather than in either frame.
struct WaitForLink {
  // The CancelledError the runner wakes the caller with when aw ends first.
  std::exception_ptr aw_finished = std::make_exception_ptr(CancelledError{});
  bool caller_waiting = true;
};

template <class T>
Coro<void> wait_for_runner(AnyTask waiter, Task<T> aw, std::shared_ptr<WaitForLink> link) {
  try {
    co_await aw;
  } catch (...) {  // NOLINT: any outcome of aw, CancelledError included, is the caller's to see
  }
  TaskHeader* w = waiter.header();
  // Only a caller still asleep in its timeout is woken; one already woken (by its own cancel
  // or by the timeout), waiting for this runner, or gone from this wait_for decides for itself.
  // (MicroPython would cancel a caller that has moved on, wherever it sleeps next.)
  if (link->caller_waiting && !w->finished && !w->error && w->waiting_on == nullptr) {
    current_loop().cancel_with(w, link->aw_finished);
  }
}

template <class T>
Coro<T> wait_for_ms_impl(Task<T> aw, std::int64_t timeout_ms) {
  auto link = std::make_shared<WaitForLink>();
  struct LeaveOnExit {
    WaitForLink& link;
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
  if (aw_first) co_return aw.result();  // §9.4, §9.5
  // §9.6: the timeout came first: cancel aw, wait until it has really ended, then time out.
  runner.cancel();
  co_await runner;
  throw TimeoutError();
}

}  // namespace detail

// Awaits `aw` (a Coro or a Task) for at most `timeout_ms` milliseconds.
template <detail::GatherArgument A>
Coro<detail::result_of_t<A>> wait_for_ms(A aw, std::int64_t timeout_ms) {
  Task<detail::result_of_t<A>> task = detail::promote(std::move(aw));
  co_return co_await detail::wait_for_ms_impl(std::move(task), timeout_ms);
}

// Awaits `aw` (a Coro or a Task) for at most `timeout_s` seconds (truncated to milliseconds).
template <detail::GatherArgument A>
Coro<detail::result_of_t<A>> wait_for(A aw, double timeout_s) {
  Task<detail::result_of_t<A>> task = detail::promote(std::move(aw));
  co_return co_await detail::wait_for_ms_impl(std::move(task), detail::seconds_to_ms(timeout_s));
}

}  // namespace uasyncio
