// The event loop (MicroPython's Loop, §4): get_event_loop(), run_until_complete, run_forever,
// stop, the exception handler (§8) and the clock. The scheduling itself is detail::Scheduler's.
//
//   ua::Loop& loop = ua::get_event_loop();
//   loop.set_virtual_clock(true);       // timed code runs in no real time (tests)
//   int v = loop.run_until_complete(main());
//
// Lifetime: each thread has its own loop, made on first use and destroyed when the thread ends;
// destroying a loop destroys every task it still owns (as new_event_loop() does). A Loop may
// also be made directly; it is the thread's loop while it runs.
// Thread rules: a loop, its tasks and every awaitable used by them belong to the thread that
// runs the loop; only ThreadSafeFlag::set may be called from other threads.
#pragma once

#include <uv.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <string>

#include "uasyncio/any_task.hpp"
#include "uasyncio/detail/scheduler.hpp"

namespace uasyncio {

template <class T>
class Coro;
template <class T>
class Task;

// What an exception handler receives (§8): MicroPython's context dict.
struct ExceptionContext {
  std::string message;           // "Task exception wasn't retrieved"
  std::exception_ptr exception;  // the task's exception
  AnyTask future;                // the task (empty when the error has no task)
};

class Loop {
 public:
  using ExceptionHandler = std::function<void(Loop&, const ExceptionContext&)>;

  // A loop on the real clock (or the virtual one if UASYNCIO_CLOCK=virtual is set).
  Loop();
  // Destroys every task the loop still owns (see new_event_loop()).
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // §3, loop.create_task(coro): schedules `coro` as a task of this loop.
  template <class T>
  Task<T> create_task(Coro<T> coro);
  // §4.6-4.8, loop.run_until_complete(aw): runs until `main` finishes; returns its value or
  // rethrows its exception. Called from inside a task, it drives this same loop (nested run).
  template <class T>
  T run_until_complete(Task<T> main);
  template <class T>
  T run_until_complete(Coro<T> main);
  // §4.9, loop.run_forever(): runs until stop() is called (a stop() before the loop gets to it is
  // kept, as in MicroPython). Can be called again and carries on with the pending tasks.
  void run_forever();
  // §4.9, loop.stop(): makes run_forever() return at its next turn; a second call before then
  // does nothing.
  void stop();
  // §4.9, loop.close(): does nothing (as in MicroPython).
  void close() {}
  // §8.4, loop.set_exception_handler(h) / get_exception_handler(): the handler called for a task
  // exception nobody retrieved; null restores the default.
  void set_exception_handler(ExceptionHandler handler) { handler_ = std::move(handler); }
  const ExceptionHandler& get_exception_handler() const { return handler_; }
  // §8.2, loop.default_exception_handler(loop, context): prints the report on stderr.
  static void default_exception_handler(Loop& loop, const ExceptionContext& context);
  // §8.4, loop.call_exception_handler(context): calls the handler set, or the default one.
  void call_exception_handler(const ExceptionContext& context);
  // True while run_until_complete/run_forever is on the stack.
  bool running() const noexcept { return scheduler_.running(); }

  // ---- Clock ----
  // Milliseconds since this loop was created, on its clock: MicroPython's time.ticks_ms().
  std::int64_t time_ms() { return scheduler_.time_ms(); }
  // The virtual clock: whenever no task is runnable and no I/O is ready, time jumps straight to
  // the next deadline (as Trio's autojump clock), so timed code runs in no real time. The
  // environment variable UASYNCIO_CLOCK=virtual turns it on for a new loop. Switching keeps the
  // time where it is.
  void set_virtual_clock(bool on) { scheduler_.set_virtual_clock(on); }
  bool virtual_clock() const { return scheduler_.virtual_clock(); }
  // Moves the virtual clock forward by `ms` at once (Trio's MockClock.jump), as if the running
  // step had blocked the loop that long: sleepers whose deadline passed are due, ahead of tasks
  // made ready later (§4.2). RuntimeError on the real clock.
  void advance_clock(std::int64_t ms) { scheduler_.advance_clock(ms); }

  // The libuv loop, for code that adds its own handles (their callbacks must only queue work).
  uv_loop_t* uv_loop() { return scheduler_.uv_loop(); }

 private:
  friend detail::Scheduler& detail::default_scheduler();
  friend Loop& new_event_loop();
  template <class T>
  friend T run(Coro<T> coro);

  ExceptionHandler handler_;
  detail::TaskHeader* stop_task_ = nullptr;  // run_forever's stopper, until stop() queues it
  detail::Scheduler scheduler_{*this};
};

// §4.9, asyncio.get_event_loop(): the calling thread's loop (created on first use).
Loop& get_event_loop();
// §4.9, asyncio.new_event_loop(): discards every task of the calling thread's loop (destroying
// the frames nobody else refers to) and returns that loop.
Loop& new_event_loop();
// MicroPython's time.ticks_ms() on the calling thread's loop clock.
std::int64_t ticks_ms();

}  // namespace uasyncio
