#include "uasyncio/detail/scheduler.hpp"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "fresh_task_fast_path.hpp"
#include "sigpipe_block.hpp"
#include "uasyncio/any_task.hpp"
#include "uasyncio/detail/uv_close.hpp"
#include "uasyncio/errors.hpp"
#include "uasyncio/gather.hpp"
#include "uasyncio/loop.hpp"

namespace uasyncio::detail {
namespace {

// Ready tasks run between two polls of libuv while tasks keep being ready and nothing asks for a
// poll before every step.
constexpr unsigned kStepsPerPoll = 1024;

}  // namespace

void rethrow_pending(TaskHeader* t) {
  std::rethrow_exception(std::exchange(t->error, nullptr));
}
void rethrow_error(const TaskHeader* t) {
  std::rethrow_exception(t->error);
}
void throw_not_ready() {
  throw RuntimeError("result is not ready");
}

Scheduler::Scheduler(Loop& owner) : owner_(owner), next_poll_at_(kStepsPerPoll) {
  if (int rc = uv_loop_init(&uv_); rc != 0) {
    throw RuntimeError(std::string("uv_loop_init: ") + uv_strerror(rc));
  }
  uv_timer_init(&uv_, &timer_);
  timer_.data = this;
  epoch_ns_ = steady_ns();
  const char* clock = std::getenv("UASYNCIO_CLOCK");
  virtual_clock_ = clock != nullptr && std::strcmp(clock, "virtual") == 0;
  refresh_now();
}

Scheduler::~Scheduler() {
  reset();
  uv_close(as_uv_handle(&timer_), nullptr);
  // Runs the close callbacks, the timer's and those of handles the destroyed frames closed.
  uv_run(&uv_, UV_RUN_NOWAIT);
  announce_loop_close(&uv_);
  uv_loop_close(&uv_);
  if (this_thread_scheduler == this) this_thread_scheduler = nullptr;
}

// ---- Clock ----

void Scheduler::refresh_now_out_of_line() noexcept {
  refresh_now();
}

void Scheduler::set_virtual_clock(bool on) noexcept {
  if (on == virtual_clock_) return;
  refresh_now();
  virtual_now_ = now_;
  if (!on) epoch_ns_ = steady_ns() - now_ * 1'000'000;  // real time carries on from here
  virtual_clock_ = on;
}

void Scheduler::advance_clock(std::int64_t ms) {
  if (!virtual_clock_) throw RuntimeError("advance_clock: the loop is on the real clock");
  if (ms <= 0) return;
  virtual_now_ = saturating_add(virtual_now_, ms);
  now_ = virtual_now_;
}

// ---- Queues ----

void Scheduler::schedule_at(TaskHeader* t, std::int64_t deadline) {
  // A deadline that is already due and keeps the FIFO's keys in order joins the FIFO; anything
  // else (a future deadline, or a sleep created long before it was awaited, §5.4) the heap.
  if (deadline <= now_ && (ready_.empty() || deadline >= ready_.back_key())) {
    ready_.push(t, deadline);
  } else {
    timers_.push(t, deadline);
  }
}

// ---- Waiting ----

void Scheduler::park(WaitList& list, ParkedWaiter& w, std::coroutine_handle<> h, ParkKind kind) {
  TaskHeader* self = current_;
  w.task = self;
  list.push_back(&w);
  self->waiting_on = &w;
  self->resume_point = h;
  if (kind == ParkKind::io) {
    io_parked_.push_back(&w);
    poll_before_next_step();
  } else {
    parked_.push_back(&w);
  }
}

namespace {
// Wakes a task awaiting another task (inlined where a finishing task wakes its awaiters).
[[gnu::always_inline]] inline void wake_waiter(Scheduler& s, Waiter* w) {
  TaskHeader* t = w->task;
  w->list->remove(w);
  t->waiting_on = nullptr;
  s.schedule_now(t);
}
}  // namespace

void Scheduler::wake(Waiter* w) noexcept {
  TaskHeader* t = w->task;
  if (w->list != nullptr) w->list->remove(w);  // null: its list was destroyed under it
  t->waiting_on = nullptr;
  schedule_now(t);
}

void Scheduler::watch(PollSource& s) noexcept {
  if (!s.in_ring()) poll_sources_.push_back(&s);
  poll_before_next_step();
}

void Scheduler::unwatch(PollSource& s) noexcept {
  if (s.in_ring()) s.unlink_from_ring();
}

// ---- Cancelling ----

bool Scheduler::cancel(TaskHeader* t) {
  if (t->finished) return false;
  return cancel_with(t, std::make_exception_ptr(CancelledError{}));
}

bool Scheduler::cancel_with(TaskHeader* t, std::exception_ptr error) {
  if (t->finished) return false;
  if (t == current_) throw RuntimeError("can't cancel self");
  // §6.3: a task awaiting another task is cancelled through the innermost awaited one.
  while (t->waiting_on != nullptr && t->waiting_on->awaited != nullptr) {
    t = t->waiting_on->awaited;
  }
  if (t->waiting_on != nullptr) {
    wake(t->waiting_on);
  } else if (t->in_heap) {
    // §6.4: a sleeper whose deadline is still ahead is brought forward to now; one already due
    // keeps its place.
    if (!virtual_clock_) refresh_now();
    if (timers_.key_of(t) > now_) {
      timers_.remove(t);
      schedule_now(t);
    }
  }
  t->error = std::move(error);
  return true;
}

// ---- Finishing ----

void Scheduler::finish_task(TaskHeader* t) {
  if (t->error) [[unlikely]] {
    finish_task_slow(t);
    return;
  }
  if (t->in_gather) {
    finish_gathered(t);
    return;
  }
  // A task that returned: its waiters go on. (Whether its result was retrieved only matters for
  // an exception, so it is not recorded here.)
  t->finished = true;
  if (t == inline_child_ && hand_back(t)) return;
  wake_awaiters(t);
}

// §10: a gathered task reports to its gather instead of waking waiters.
void Scheduler::finish_gathered(TaskHeader* t) {
  t->finished = true;
  GatherCore* g = t->gather;
  t->clear_gather();
  t->retrieved = true;
  g->child_done(t);
}

// Kept out of line so that finish_task's own path stays free of register saves.
void Scheduler::wake_awaiters(TaskHeader* t) {
  while (Waiter* w = t->awaiters.front())
    wake_waiter(*this, w);
}

// The tasks awaiting `t`, which ended without waking them (§1.4, §4.5a): they wait on the
// scheduler's orphans from now on, so that a cancel still reaches them and reset() finds them.
void Scheduler::orphan_awaiters(TaskHeader* t) noexcept {
  if (t->in_gather) return;
  while (Waiter* w = t->awaiters.pop_front()) {
    w->awaited = nullptr;
    orphans_.push_back(w);
  }
}

void Scheduler::finish_task_slow(TaskHeader* t) {
  t->finished = true;
  const ErrorKind kind = classify(t->error).kind;
  if (kind == ErrorKind::other) {
    t->retrieved = true;
    escaping_ = t->error;
    orphan_awaiters(t);
    return;
  }
  if (t->is_main) {
    // §4.5a: run() re-raises at once; the main task's waiters are not woken.
    t->retrieved = true;
    orphan_awaiters(t);
    return;
  }
  if (t->in_gather) {
    finish_gathered(t);
    return;
  }
  bool awaited = false;
  while (Waiter* w = t->awaiters.front()) {
    wake_waiter(*this, w);
    awaited = true;
  }
  if (awaited) {
    t->retrieved = true;
  } else if (kind != ErrorKind::cancelled) {
    // §8.1: report later, unless someone retrieves it first. The scheduler keeps its reference.
    t->report_pending = true;
    schedule_now(t);
  }
}

void Scheduler::report_unretrieved(TaskHeader* t) {
  struct Release {
    TaskHeader* t;
    ~Release() { intrusive_release(t); }
  } release{t};
  t->report_pending = false;
  if (t->retrieved) return;
  t->retrieved = true;
  owner_.call_exception_handler({"Task exception wasn't retrieved", t->error, AnyTask(t)});
}

// ---- Running ----

// Inlined into the run loop, as step() is.
[[gnu::always_inline]] inline TaskHeader* Scheduler::pop_due() {
  if (!timers_.empty()) return pop_due_with_timers();
  if (!ready_.empty()) return ready_.pop();
  return nullptr;
}

// Kept apart so the common case above (no sleeper) stays a few instructions.
TaskHeader* Scheduler::pop_due_with_timers() {
  const std::int64_t key = timers_.top_key();
  // A sleeper already due by the last reading of the clock is due: the clock (~40 ns a read
  // here) is read only for one that may not be. "Is it due" gets the same answer either way,
  // and schedule_now reads the clock itself for its key while sleepers are queued.
  if (key > now_ && !virtual_clock_) refresh_now();
  // On equal keys the sleeper goes first: it was queued before anything that became ready at
  // that same millisecond.
  if (key <= now_ && (ready_.empty() || key <= ready_.front_key())) return timers_.pop();
  if (!ready_.empty()) return ready_.pop();
  return nullptr;
}

// Runs `t` (current_ already) up to its next suspension.
[[gnu::always_inline]] inline void Scheduler::resume_task(TaskHeader* t) {
  t->started = true;
  do {
    t->bounce = false;
    t->resume_point.resume();
  } while (t->bounce);
}

// Inlined into the run loop: it runs once per task switch.
[[gnu::always_inline]] inline void Scheduler::step(TaskHeader* t) {
  if (t->finished) {
    report_unretrieved(t);
    return;
  }
  TaskHeader* const outer = current_;
  current_ = t;
  if (!t->started && t->error) {
    // §6.7: cancelled before it ever ran, so none of its body runs.
    finish_task(t);
  } else {
    resume_task(t);
  }
  current_ = outer;
  if (t->finished && !t->report_pending) intrusive_release(t);
}

// §4.3, §13.2: what MicroPython's poll before every step finds. The poll sources (thread-safe
// flags with a waiter) are looked at without a system call; libuv is polled while any task
// waits on I/O, and otherwise every kStepsPerPoll steps (to let other handles' callbacks in).
void Scheduler::between_steps() {
  if (!poll_sources_.empty()) poll_sources();
  if (!io_parked_.empty() || steps_since_poll_ >= kStepsPerPoll) {
    steps_since_poll_ = 0;
    if (uv_loop_alive(&uv_)) poll_io(UV_RUN_NOWAIT);
  }
  const bool every_step = !io_parked_.empty() || !poll_sources_.empty();
  next_poll_at_ = every_step ? steps_since_poll_ + 1 : kStepsPerPoll;
}

void Scheduler::poll_sources() noexcept {
  poll_sources_.for_each([](PollSource* s) { s->poll(s); });
}

void Scheduler::poll_io(uv_run_mode mode) {
  if (queued_writers_ > 0) [[unlikely]] {
    const SigpipeBlock block;
    uv_run(&uv_, mode);
  } else {
    uv_run(&uv_, mode);
  }
}

// Sleeps until `wait_ms` from now, or until I/O comes first. Issue 10: libuv caches "now" once
// per loop iteration, and a step may have run long since; a timer armed against that stale
// clock is due at once in libuv's eyes, runs at the start of uv_run, and the poll that follows
// then blocks with no timer left (epoll_wait(-1)), the sleeper still pending. So the clock is
// brought up to date before arming, and the timer's callback stops the loop, which turns any
// poll still to come in this uv_run into a non-blocking one.
void Scheduler::arm_timer(std::int64_t wait_ms) {
  uv_update_time(&uv_);
  uv_timer_start(
      &timer_, [](uv_timer_t* t) { uv_stop(t->loop); }, static_cast<std::uint64_t>(wait_ms), 0);
}

void Scheduler::wait_for_work() {
  if (virtual_clock_) {
    poll_io(UV_RUN_NOWAIT);
    if (!ready_.empty()) return;
    if (!timers_.empty()) {
      if (timers_.top_key() > virtual_now_) virtual_now_ = timers_.top_key();
      now_ = virtual_now_;
      return;
    }
  }
  if (timers_.empty()) {
    if (!uv_loop_alive(&uv_)) {
      throw RuntimeError(
          "deadlock: the main task is waiting, but no task is runnable, no timer is pending and "
          "no I/O can wake it");
    }
    poll_io(UV_RUN_ONCE);
  } else {
    const std::int64_t wait = timers_.top_key() - now_;
    if (wait > 0) {
      arm_timer(wait);
      poll_io(UV_RUN_ONCE);
      uv_timer_stop(&timer_);
    }
  }
  refresh_now();
}

void Scheduler::run_until_finished(TaskHeader* main) {
  if (main->finished) return;
  struct Scope {
    Scheduler& s;
    TaskHeader* main;
    Scheduler* outer_scheduler = this_thread_scheduler;
    TaskHeader* outer_task = s.current_;
    TaskHeader* outer_main = s.main_;
    bool was_main = main->is_main;
    Scope(Scheduler& sc, TaskHeader* m) : s(sc), main(m) {
      this_thread_scheduler = &s;
      main->is_main = true;
      s.main_ = main;
      ++s.run_depth_;
    }
    ~Scope() {
      --s.run_depth_;
      s.main_ = outer_main;
      main->is_main = was_main;
      s.current_ = outer_task;
      this_thread_scheduler = outer_scheduler;
    }
  } scope(*this, main);
  const AnyTask keep_alive(main);
  refresh_now();
  // MicroPython polls before the first step too.
  if (!io_parked_.empty() || !poll_sources_.empty()) between_steps();
  while (!main->finished) {
    TaskHeader* t = pop_due();
    if (t == nullptr) {
      wait_for_work();
      continue;
    }
    step(t);
    if (escaping_) std::rethrow_exception(std::exchange(escaping_, nullptr));
    if (++steps_since_poll_ >= next_poll_at_) [[unlikely]]
      between_steps();
  }
}

void Scheduler::reset() {
  std::vector<TaskHeader*> owned;
  while (!ready_.empty())
    owned.push_back(ready_.pop());
  timers_.for_each([&](TaskHeader* t) { owned.push_back(t); });
  timers_.clear();
  // Parked tasks: unlinked from their lists, so that nothing can wake them any more.
  auto take_parked = [&](Waiter* w) {
    TaskHeader* t = w->task;
    if (t == nullptr || t->waiting_on != w) return;  // woken already: it is queued
    if (w->list != nullptr) w->list->remove(w);
    t->waiting_on = nullptr;
    owned.push_back(t);
  };
  parked_.for_each([&](ParkedWaiter* w) {
    take_parked(w);
    w->unlink_from_ring();
  });
  io_parked_.for_each([&](ParkedWaiter* w) {
    take_parked(w);
    w->unlink_from_ring();
  });
  while (Waiter* w = orphans_.pop_front()) {
    w->task->waiting_on = nullptr;
    owned.push_back(w->task);
  }
  // The tasks awaiting any of those (§7.1) are the scheduler's too (an awaiter's own chain ends
  // at a queued, parked or orphaned task, or at one on the stack, which is left alone).
  for (std::size_t i = 0; i < owned.size(); ++i) {
    TaskHeader* t = owned[i];
    if (t->in_gather) continue;
    while (Waiter* w = t->awaiters.pop_front()) {
      w->task->waiting_on = nullptr;
      owned.push_back(w->task);
    }
  }
  // Each holds the scheduler's reference; a task nobody else refers to is destroyed (its frame's
  // destructors run), one that a handle still names stays, never to run. Destroying a frame may
  // drop the last handle to another task of the list: that one still has the scheduler's
  // reference until its own turn.
  for (TaskHeader* t : owned)
    intrusive_release(t);
  next_poll_at_ = kStepsPerPoll;
}

Scheduler& default_scheduler() {
  return get_event_loop().scheduler_;
}

}  // namespace uasyncio::detail
