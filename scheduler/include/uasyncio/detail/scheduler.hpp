// The scheduler behind a Loop (library-internal): MicroPython's core.py. One run queue keyed by
// wake-up time (FIFO on ties), the current task, the clock, waking and cancelling tasks, and the
// libuv loop that delivers I/O and sleeps until the next deadline.
//
// Every awaitable of the library talks to the scheduler of the calling thread
// (current_scheduler()); users see only Loop. libuv callbacks never resume a coroutine: they
// only queue tasks. Coroutines are resumed from the run queue alone, which keeps stacks flat and
// lets run() nest (uv_run is not re-entrant).
//
// Thread rules: a scheduler is used only by the thread that runs it (ThreadSafeFlag::set is the
// one cross-thread entry, and it touches only atomics and a uv_async_t).
#pragma once

#include <uv.h>

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <limits>

#include "uasyncio/detail/ready_queue.hpp"
#include "uasyncio/detail/task_header.hpp"
#include "uasyncio/detail/timer_heap.hpp"
#include "uasyncio/detail/wait_list.hpp"

namespace uasyncio {
class Loop;
}

namespace uasyncio::detail {

// Something the scheduler looks at before every step while it is watched, without a system call
// (MicroPython polls its I/O queue before every step; a ThreadSafeFlag is one of those polls).
struct PollSource : RingLink {
  void (*poll)(PollSource* self) = nullptr;
};

// What a parked task waits for, which decides how the scheduler keeps track of it.
enum class ParkKind : unsigned char {
  primitive,  // an Event, Lock, Queue, gather, process exit: woken by another task or callback
  io,         // a socket or pipe: MicroPython polls for it before every step, and so do we
};

// The monotonic clock, in nanoseconds.
inline std::int64_t steady_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class Scheduler {
 public:
  explicit Scheduler(Loop& owner);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  Loop& loop() const noexcept { return owner_; }
  uv_loop_t* uv_loop() noexcept { return &uv_; }

  // ---- The running task ----
  // The task being stepped, or null between steps.
  TaskHeader* current() const noexcept { return current_; }
  // True while run_until_finished is on the stack.
  bool running() const noexcept { return run_depth_ > 0; }

  // ---- Clock (milliseconds since the scheduler was made; real or virtual) ----
  // The last reading, refreshed at every scheduling decision.
  std::int64_t now() const noexcept { return now_; }
  void refresh_now() noexcept {
    now_ = virtual_clock_ ? virtual_now_ : (steady_ns() - epoch_ns_) / 1'000'000;
  }
  std::int64_t time_ms() noexcept {
    refresh_now();
    return now_;
  }
  // now + delay_ms, saturated at the largest deadline (a deadline never overflows; a negative
  // delay counts as 0). The one place a deadline is computed.
  std::int64_t deadline_after(std::int64_t delay_ms) noexcept {
    refresh_now();
    return saturating_add(now_, delay_ms);
  }
  // a + b for a deadline: b <= 0 adds nothing, and the sum stops at the largest value.
  static std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept {
    std::int64_t sum;
    if (b <= 0) return a;
    if (__builtin_add_overflow(a, b, &sum)) return std::numeric_limits<std::int64_t>::max();
    return sum;
  }
  void set_virtual_clock(bool on) noexcept;
  bool virtual_clock() const noexcept { return virtual_clock_; }
  // Moves the virtual clock forward by `ms` (saturating), as if a step had blocked that long.
  void advance_clock(std::int64_t ms);

  // ---- Queues ----
  // Queues `t` to run after everything already due (key = now).
  // The key is read from the clock now, as MicroPython's push does: a now_ left over from an
  // earlier step would let this task jump ahead of sleepers that expired meanwhile (§4.2).
  // With no sleeper queued the key cannot be compared with a deadline that is already past
  // (every later deadline is computed from a fresh clock), so the clock read is skipped.
  void schedule_now(TaskHeader* t) {
    if (!virtual_clock_ && !timers_.empty()) refresh_now_out_of_line();
    ready_.push(t, now_);
  }
  // Queues `t` to run at `deadline` (milliseconds on this clock).
  void schedule_at(TaskHeader* t, std::int64_t deadline);
  bool has_timers() const noexcept { return !timers_.empty(); }

  // ---- Waiting ----
  // Suspends the running task in `list` through `w` (a node in the awaiting frame) and records
  // `h` as where it resumes; wake(&w) queues it again, a cancel unlinks it (§6.4). The node is
  // also linked into this scheduler's ring for `kind`, so that reset() finds the task.
  void park(WaitList& list, ParkedWaiter& w, std::coroutine_handle<> h, ParkKind kind);
  // Suspends the running task until `awaited` finishes (§7.1); cancel() is forwarded there
  // (§6.3). Not in a ring: reset() reaches such a task through the task it awaits.
  void park_awaiting(TaskHeader* awaited, Waiter& w, std::coroutine_handle<> h) noexcept {
    TaskHeader* self = current_;
    w.task = self;
    w.awaited = awaited;
    awaited->awaiters.push_back(&w);
    self->waiting_on = &w;
    self->resume_point = h;
  }
  // Queues the task parked in `w` (key now), unlinking it from where it waited.
  void wake(Waiter* w) noexcept;
  // Looks at I/O and the watched poll sources before the next step (and after every step while
  // any are watched or any task waits on I/O), as MicroPython polls before every step.
  void poll_before_next_step() noexcept { next_poll_at_ = steps_since_poll_ + 1; }
  void watch(PollSource& s) noexcept;
  void unwatch(PollSource& s) noexcept;
  // Streams with writes queued in libuv (+1 when one starts, -1 when its queue empties): libuv
  // sends them from inside uv_run with write(), which raises SIGPIPE on a broken pipe, so
  // SIGPIPE is blocked in this thread around uv_run meanwhile (and one it caused is taken back).
  void count_queued_writer(int delta) noexcept { queued_writers_ += delta; }

  // ---- Tasks ----
  // Called from a task's final suspend point.
  void finish_task(TaskHeader* t);
  // Called by the running task once it waits for `child` (Task::Awaiter, after
  // park_awaiting): true if the running task must stay suspended, false if it goes on at once
  // (src/fresh_task_fast_path.hpp says when and why).
  bool run_awaited(TaskHeader* child);
  // §6: false if `t` finished; otherwise the innermost task it awaits is woken with `error` (a
  // CancelledError, or wait_for's private one) and true is returned.
  bool cancel(TaskHeader* t);
  bool cancel_with(TaskHeader* t, std::exception_ptr error);
  // Runs until `main` has finished (§4.5-4.8).
  void run_until_finished(TaskHeader* main);
  // Releases every task this scheduler owns and has not finished: queued, asleep, or parked
  // (new_event_loop(), §4.9, and the loop's destructor). A frame nobody else refers to is
  // destroyed; one that a handle still names stays, unlinked from everything, never to run.
  // The tasks on the stack (a reset from inside a task) are left alone.
  void reset();

 private:
  TaskHeader* pop_due();
  [[gnu::noinline]] TaskHeader* pop_due_with_timers();
  void step(TaskHeader* t);
  void resume_task(TaskHeader* t);
  [[gnu::noinline]] void finish_task_slow(TaskHeader* t);
  [[gnu::noinline]] void finish_gathered(TaskHeader* t);
  [[gnu::noinline]] void wake_awaiters(TaskHeader* t);
  void orphan_awaiters(TaskHeader* t) noexcept;
  bool hand_back(TaskHeader* t);
  void report_unretrieved(TaskHeader* t);
  [[gnu::noinline]] void between_steps();
  void poll_sources() noexcept;
  void wait_for_work();
  void poll_io(uv_run_mode mode);
  // refresh_now, called: keeps the clock read out of schedule_now's inlined body.
  [[gnu::noinline]] void refresh_now_out_of_line() noexcept;
  void arm_timer(std::int64_t wait_ms);

  Loop& owner_;
  uv_loop_t uv_{};
  uv_timer_t timer_{};
  ReadyQueue ready_;
  TimerHeap timers_;
  TaskHeader* current_ = nullptr;
  TaskHeader* main_ = nullptr;   // main task of the innermost running run_until_finished
  std::exception_ptr escaping_;  // a non-Exception error that must leave run() (§1.4)
  std::int64_t epoch_ns_ = 0;
  std::int64_t now_ = 0;
  std::int64_t virtual_now_ = 0;
  int run_depth_ = 0;
  // Steps since libuv was last polled. Between two steps the scheduler polls once the count
  // reaches next_poll_at_: kStepsPerPoll when nothing asks for more (ready tasks then run in
  // batches between polls), one step ahead while a task waits on I/O or a poll source is
  // watched (MicroPython polls before every step).
  unsigned steps_since_poll_ = 0;
  unsigned next_poll_at_;
  // The fresh-task fast path's state (src/fresh_task_fast_path.hpp).
  TaskHeader* inline_child_ = nullptr;   // the task run_awaited is running on its parent's stack
  TaskHeader* inline_parent_ = nullptr;  // the task that awaits it
  bool handed_back_ = false;             // hand_back woke the parent without queueing it
  bool virtual_clock_ = false;
  // Tasks parked on primitives, on I/O, and those orphaned (awaiting a task that ended without
  // waking them, §1.4/§4.5a): the tasks no queue holds, which reset() must still find.
  Ring<ParkedWaiter> parked_;
  Ring<ParkedWaiter> io_parked_;
  WaitList orphans_;
  Ring<PollSource> poll_sources_;
  int queued_writers_ = 0;
};

// A loop runs only on its own thread, so the thread's scheduler is "the" scheduler: the one of
// the innermost run, else the thread's default loop (get_event_loop()).
inline thread_local Scheduler* this_thread_scheduler = nullptr;
[[gnu::cold]] Scheduler& default_scheduler();
[[gnu::always_inline]] inline Scheduler& current_scheduler() {
  Scheduler* s = this_thread_scheduler;
  if (s == nullptr) [[unlikely]]
    return default_scheduler();
  return *s;
}

// Out of line, so that the await points that may throw them stay small enough to inline.
[[noreturn, gnu::cold]] void rethrow_pending(TaskHeader* t);
[[noreturn, gnu::cold]] void rethrow_error(const TaskHeader* t);
[[noreturn, gnu::cold]] void throw_not_ready();
// Throws the exception a cancel (or wait_for) left for the running task at its await point.
inline void throw_if_pending() {
  TaskHeader* t = current_scheduler().current();
  if (t != nullptr && t->error) [[unlikely]]
    rethrow_pending(t);
}

}  // namespace uasyncio::detail
