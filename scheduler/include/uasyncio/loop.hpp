// The event loop: MicroPython's scheduler (one run queue keyed by wake-up time, FIFO on ties)
// driven by libuv for I/O and for sleeping until the next deadline.
//
// libuv callbacks never resume a coroutine: they only queue tasks. Coroutines are resumed from
// the run queue alone, which keeps stacks flat and lets run() nest (uv_run is not re-entrant).
#pragma once

#include <uv.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <string>

#include "uasyncio/any_task.hpp"
#include "uasyncio/detail/ready_queue.hpp"
#include "uasyncio/detail/task_header.hpp"
#include "uasyncio/detail/timer_heap.hpp"

namespace uasyncio {

template <class T>
class Coro;
template <class T>
class Task;

// What an exception handler receives (§8): MicroPython's context dict.
struct ExceptionContext {
  std::string message;
  std::exception_ptr exception;
  AnyTask future;
};

class Loop {
 public:
  using ExceptionHandler = std::function<void(Loop&, const ExceptionContext&)>;

  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // ---- MicroPython's Loop (§4.9) ----
  template <class T>
  Task<T> create_task(Coro<T> coro);
  // Runs until `main` finishes; returns its value or rethrows its exception (§4.6-4.8).
  template <class T>
  T run_until_complete(Task<T> main);
  template <class T>
  T run_until_complete(Coro<T> main);
  // Runs until stop() is called (a stop() before the loop gets to it is kept, as in MicroPython).
  void run_forever();
  void stop();
  void close() {}
  void set_exception_handler(ExceptionHandler handler) { handler_ = std::move(handler); }
  const ExceptionHandler& get_exception_handler() const { return handler_; }
  static void default_exception_handler(Loop& loop, const ExceptionContext& context);
  void call_exception_handler(const ExceptionContext& context);

  // ---- Clock ----
  // Milliseconds since this loop was created, on its clock (real, or virtual).
  std::int64_t time_ms();
  // With the virtual clock, whenever no task is runnable and no I/O is ready the clock jumps
  // straight to the next deadline (as Trio's autojump clock), so timed code runs in no time.
  // The environment variable UASYNCIO_CLOCK=virtual turns it on for a new loop.
  void set_virtual_clock(bool on);
  bool virtual_clock() const { return virtual_clock_; }

  uv_loop_t* uv_loop() { return &uv_; }

  // ---- Scheduler internals, used by this library's awaitables ----
  detail::TaskHeader* current() const { return current_; }
  // The loop's notion of "now" for queue keys (refreshed at every scheduling decision).
  std::int64_t now() const { return now_; }
  void refresh_now();
  // Queues `t` to run after everything already due (key = now).
  // The key is read from the clock now, as MicroPython's push does: a now_ left over from an
  // earlier step would let this task jump ahead of sleepers that expired meanwhile (§4.2).
  // With no sleeper queued the key cannot be compared with a deadline that is already past
  // (every later deadline is computed from a fresh clock), so the clock read is skipped.
  void schedule_now(detail::TaskHeader* t) {
    if (!virtual_clock_ && !timers_.empty()) refresh_now();
    ready_.push(t, now_);
  }
  // Queues `t` to run at `deadline` (milliseconds on this loop's clock).
  void schedule_at(detail::TaskHeader* t, std::int64_t deadline);
  void unschedule_timer(detail::TaskHeader* t) { timers_.remove(t); }
  bool has_timers() const { return !timers_.empty(); }
  // Wakes the task waiting in `w`: unlinks it and queues it (key now).
  void wake(detail::Waiter* w);
  // Called from a task's final suspend point.
  void finish_task(detail::TaskHeader* t);
  // Called by the running task once it waits for `child`: runs `child` at once when it has not
  // started and the scheduler would pick it next anyway. Returns false when the running task was
  // woken by it and is again the only runnable one (it goes on without a trip through the
  // scheduler), true when it must stay suspended.
  bool run_awaited(detail::TaskHeader* child);
  bool cancel(detail::TaskHeader* t);
  bool cancel_with(detail::TaskHeader* t, std::exception_ptr error);
  // Runs the loop until `main` has finished (the non-template part of run_until_complete).
  void run_until_finished(detail::TaskHeader* main);
  // Abandons every queued task (new_event_loop()).
  void reset();
  // True while run_until_complete/run_forever is on the stack.
  bool running() const { return run_depth_ > 0; }

 private:
  detail::TaskHeader* pop_due();
  [[gnu::noinline]] detail::TaskHeader* pop_due_with_timers();
  void step(detail::TaskHeader* t);
  [[gnu::noinline]] void finish_task_slow(detail::TaskHeader* t);
  bool hand_back(detail::TaskHeader* t);
  [[gnu::noinline]] void wake_all(detail::TaskHeader* t);
  [[gnu::noinline]] void finish_gathered(detail::TaskHeader* t);
  void resume_task(detail::TaskHeader* t);
  void report_unretrieved(detail::TaskHeader* t);
  void wait_for_work();
  void poll_io(uv_run_mode mode);

  uv_loop_t uv_{};
  uv_timer_t timer_{};
  detail::ReadyQueue ready_;
  detail::TimerHeap timers_;
  detail::TaskHeader* current_ = nullptr;
  detail::TaskHeader* main_ = nullptr;  // main task of the innermost running run_until_complete
  detail::TaskHeader* stop_task_ = nullptr;
  std::exception_ptr escaping_;  // a non-Exception error that must leave run() (§1.4)
  ExceptionHandler handler_;
  std::int64_t epoch_ns_ = 0;
  std::int64_t now_ = 0;
  std::int64_t virtual_now_ = 0;
  int run_depth_ = 0;
  unsigned steps_since_poll_ = 0;
  // The task run_awaited is running (only one at a time: it runs on the awaiting task's stack).
  detail::TaskHeader* inline_child_ = nullptr;
  detail::TaskHeader* inline_parent_ = nullptr;  // the task that awaits it
  bool handed_back_ = false;                     // see hand_back
  bool virtual_clock_ = false;
};

// The calling thread's loop (created on first use; each thread has its own).
Loop& get_event_loop();
// Discards every queued task of the calling thread's loop and returns it (§4.9).
Loop& new_event_loop();
// get_event_loop().time_ms(): MicroPython's time.ticks_ms() on the loop's clock.
std::int64_t ticks_ms();

namespace detail {
// A loop only ever runs on the thread that owns it, so the thread's loop is "the" loop.
inline thread_local Loop* this_thread_loop = nullptr;
inline Loop& current_loop() {
  Loop* l = this_thread_loop;
  return l != nullptr ? *l : get_event_loop();
}
// Out of line, so that the await points that may throw them stay small enough to inline.
[[noreturn, gnu::cold]] void rethrow_pending(TaskHeader* t);
[[noreturn, gnu::cold]] void rethrow_error(const TaskHeader* t);
[[noreturn, gnu::cold]] void throw_not_ready();
// Throws the exception a cancel (or wait_for) left for the current task at its await point.
inline void throw_if_pending(Loop& loop) {
  TaskHeader* t = loop.current();
  if (t != nullptr && t->error) [[unlikely]]
    rethrow_pending(t);
}
}  // namespace detail

}  // namespace uasyncio
