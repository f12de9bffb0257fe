#include "uasyncio/loop.hpp"

#include <cxxabi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "uasyncio/errors.hpp"
#include "uasyncio/gather.hpp"
#include "uasyncio/sleep.hpp"
#include "uasyncio/task.hpp"

namespace uasyncio {
namespace {

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool is_cancelled_error(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError&) {
    return true;
  } catch (...) {
    return false;
  }
}

// Python's "Exception or CancelledError" (core.py catches only those): anything else, like a
// SystemExit, leaves run() at once (§1.4). In C++ terms: std::exception or CancelledError.
bool is_ordinary(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const CancelledError&) {
    return true;
  } catch (const std::exception&) {
    return true;
  } catch (...) {
    return false;
  }
}

Coro<void> stopper() {
  co_return;
}

// Ready tasks run between two polls of libuv while tasks keep being ready.
constexpr unsigned kStepsPerPoll = 1024;

constexpr std::int64_t kMaxDelayMs = std::numeric_limits<std::int64_t>::max() / 4;

}  // namespace

namespace detail {
void rethrow_pending(TaskHeader* t) {
  std::rethrow_exception(std::exchange(t->error, nullptr));
}
void rethrow_error(const TaskHeader* t) {
  std::rethrow_exception(t->error);
}
void throw_not_ready() {
  throw RuntimeError("result is not ready");
}
}  // namespace detail

Loop::Loop() {
  if (int rc = uv_loop_init(&uv_); rc != 0) {
    throw RuntimeError(std::string("uv_loop_init: ") + uv_strerror(rc));
  }
  uv_timer_init(&uv_, &timer_);
  epoch_ns_ = steady_ns();
  const char* clock = std::getenv("UASYNCIO_CLOCK");
  virtual_clock_ = clock != nullptr && std::strcmp(clock, "virtual") == 0;
  refresh_now();
}

Loop::~Loop() {
  reset();
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  uv_run(&uv_, UV_RUN_NOWAIT);
  uv_loop_close(&uv_);
  if (detail::this_thread_loop == this) detail::this_thread_loop = nullptr;
}

std::int64_t Loop::time_ms() {
  refresh_now();
  return now_;
}

void Loop::refresh_now() {
  now_ = virtual_clock_ ? virtual_now_ : (steady_ns() - epoch_ns_) / 1'000'000;
}

void Loop::set_virtual_clock(bool on) {
  if (on == virtual_clock_) return;
  refresh_now();
  virtual_now_ = now_;
  if (!on) epoch_ns_ = steady_ns() - now_ * 1'000'000;  // real time carries on from here
  virtual_clock_ = on;
}

void Loop::schedule_at(detail::TaskHeader* t, std::int64_t deadline) {
  // A deadline that is already due and keeps the FIFO's keys in order joins the FIFO; anything
  // else (a future deadline, or a sleep created long before it was awaited, §5.4) the heap.
  if (deadline <= now_ && (ready_.empty() || deadline >= ready_.back_key())) {
    ready_.push(t, deadline);
  } else {
    timers_.push(t, deadline);
  }
}

namespace {
// Loop::wake's body, also inlined where a finishing task wakes its awaiters.
[[gnu::always_inline]] inline void wake_waiter(Loop& loop, detail::Waiter* w) {
  detail::TaskHeader* t = w->task;
  w->list->remove(w);
  t->waiting_on = nullptr;
  loop.schedule_now(t);
}
}  // namespace

void Loop::wake(detail::Waiter* w) {
  wake_waiter(*this, w);
}

bool Loop::cancel(detail::TaskHeader* t) {
  if (t->finished) return false;
  return cancel_with(t, std::make_exception_ptr(CancelledError{}));
}

bool Loop::cancel_with(detail::TaskHeader* t, std::exception_ptr error) {
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

// The child run_awaited runs finished while the task that runs it is its only waiter and nothing
// else is due: that task would be queued alone and picked next, so it is woken without being
// queued (run_awaited queues it after all if it cannot go on at once; nothing has run meanwhile,
// so it lands where it would have, with the same key). The awaiter's handle keeps the child
// alive (refs > 1), so the scheduler's release in run_awaited runs no destructor in between.
[[gnu::always_inline]] inline bool Loop::hand_back(detail::TaskHeader* t) {
  detail::Waiter* w = t->awaiters.front();
  if (w == nullptr || w->next != w || w->task != inline_parent_ || !ready_.empty() ||
      !timers_.empty() || t->refs < 2) {
    return false;
  }
  t->awaiters.remove(w);
  w->task->waiting_on = nullptr;
  handed_back_ = true;
  return true;
}

void Loop::finish_task(detail::TaskHeader* t) {
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
  wake_all(t);
}

// §10: a gathered task reports to its gather instead of waking waiters.
void Loop::finish_gathered(detail::TaskHeader* t) {
  t->finished = true;
  detail::GatherCore* g = t->gather;
  t->clear_gather();
  t->retrieved = true;
  g->child_done(t);
}

// Kept out of line so that finish_task's own path stays free of register saves.
void Loop::wake_all(detail::TaskHeader* t) {
  while (detail::Waiter* w = t->awaiters.front())
    wake_waiter(*this, w);
}

void Loop::finish_task_slow(detail::TaskHeader* t) {
  t->finished = true;
  if (t->error && !is_ordinary(t->error)) {
    t->retrieved = true;
    escaping_ = t->error;
    return;
  }
  if (t->is_main && t->error) {
    // §4.5a: run() re-raises at once; the main task's waiters are not woken.
    t->retrieved = true;
    return;
  }
  if (t->in_gather) {
    finish_gathered(t);
    return;
  }
  bool awaited = t->is_main;
  while (detail::Waiter* w = t->awaiters.front()) {
    wake_waiter(*this, w);
    awaited = true;
  }
  if (awaited) {
    t->retrieved = true;
  } else if (t->error && !is_cancelled_error(t->error)) {
    // §8.1: report later, unless someone retrieves it first. The scheduler keeps its reference.
    t->report_pending = true;
    schedule_now(t);
  }
}

// Inlined into the run loop, as step() is.
[[gnu::always_inline]] inline detail::TaskHeader* Loop::pop_due() {
  if (!timers_.empty()) return pop_due_with_timers();
  if (!ready_.empty()) return ready_.pop();
  return nullptr;
}

// Kept apart so the common case above (no sleeper) stays a few instructions.
detail::TaskHeader* Loop::pop_due_with_timers() {
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
[[gnu::always_inline]] inline void Loop::resume_task(detail::TaskHeader* t) {
  t->started = true;
  do {
    t->bounce = false;
    t->resume_point.resume();
  } while (t->bounce);
}

// Inlined into the run loop: it runs once per task switch.
[[gnu::always_inline]] inline void Loop::step(detail::TaskHeader* t) {
  if (t->finished) {
    report_unretrieved(t);
    return;
  }
  detail::TaskHeader* const outer = current_;
  current_ = t;
  if (!t->started && t->error) {
    // §6.7: cancelled before it ever ran, so none of its body runs.
    finish_task(t);
  } else {
    resume_task(t);
  }
  current_ = outer;
  if (t->finished && !t->report_pending) detail::release(t);
}

// MicroPython would suspend the awaiting task, pop `child` (the only entry of its queue), run it,
// and, once it finished and woke the awaiting task and nothing else became due, pop that task
// again: the same order as running `child` here, without the two trips through the scheduler.
// One level only (the child runs on the awaiting task's stack, so a chain of such tasks must not
// nest), and only when no I/O poll falls between the two steps, so I/O is polled as often.
bool Loop::run_awaited(detail::TaskHeader* child) {
  // (A main task that already finished, in a nested run, ends this run before the child runs.)
  if (inline_child_ != nullptr || child->started || child->error || child->is_main ||
      main_->finished || !ready_.holds_only(child) || !timers_.empty() ||
      steps_since_poll_ + 2 >= kStepsPerPoll) {
    return true;
  }
  detail::TaskHeader* const self = current_;
  ready_.pop();
  ++steps_since_poll_;  // the awaiting task's step ends here, as far as the scheduler counts
  inline_child_ = child;
  inline_parent_ = self;
  current_ = child;
  resume_task(child);
  current_ = self;
  inline_child_ = nullptr;
  if (handed_back_) [[likely]] {
    handed_back_ = false;
    --child->refs;  // the scheduler's; hand_back saw the awaiter's handle keep the child alive
    if (!escaping_ && !main_->finished && steps_since_poll_ + 1 < kStepsPerPoll) {
      ++steps_since_poll_;  // the child's step
      return false;
    }
    schedule_now(self);
    return true;
  }
  if (child->finished && !child->report_pending) detail::release(child);
  // Otherwise the scheduler carries on from here as it would after the child's step.
  if (escaping_ || main_->finished || !ready_.holds_only(self) || !timers_.empty() ||
      steps_since_poll_ + 1 >= kStepsPerPoll) {
    return true;
  }
  ready_.pop();
  ++steps_since_poll_;  // the child's step
  return false;
}

void Loop::report_unretrieved(detail::TaskHeader* t) {
  struct Release {
    detail::TaskHeader* t;
    ~Release() { detail::release(t); }
  } release{t};
  t->report_pending = false;
  if (t->retrieved) return;
  t->retrieved = true;
  call_exception_handler({"Task exception wasn't retrieved", t->error, AnyTask(t)});
}

void Loop::poll_io(uv_run_mode mode) {
  uv_run(&uv_, mode);
}

void Loop::wait_for_work() {
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
      uv_timer_start(
          &timer_, [](uv_timer_t*) {}, static_cast<std::uint64_t>(wait), 0);
      poll_io(UV_RUN_ONCE);
      uv_timer_stop(&timer_);
    }
  }
  refresh_now();
}

void Loop::run_until_finished(detail::TaskHeader* main) {
  if (main->finished) return;
  struct Scope {
    Loop& loop;
    detail::TaskHeader* main;
    Loop* outer_loop = detail::this_thread_loop;
    detail::TaskHeader* outer_task = loop.current_;
    detail::TaskHeader* outer_main = loop.main_;
    bool was_main = main->is_main;
    Scope(Loop& l, detail::TaskHeader* m) : loop(l), main(m) {
      detail::this_thread_loop = &loop;
      main->is_main = true;
      loop.main_ = main;
      ++loop.run_depth_;
    }
    ~Scope() {
      --loop.run_depth_;
      loop.main_ = outer_main;
      main->is_main = was_main;
      loop.current_ = outer_task;
      detail::this_thread_loop = outer_loop;
    }
  } scope(*this, main);
  const AnyTask keep_alive(main);
  refresh_now();
  while (!main->finished) {
    detail::TaskHeader* t = pop_due();
    if (t == nullptr) {
      wait_for_work();
      continue;
    }
    step(t);
    if (escaping_) std::rethrow_exception(std::exchange(escaping_, nullptr));
    // Let I/O in between long runs of ready tasks; nothing to poll when no handle is active.
    if (++steps_since_poll_ >= kStepsPerPoll) {
      steps_since_poll_ = 0;
      if (uv_loop_alive(&uv_)) poll_io(UV_RUN_NOWAIT);
    }
  }
}

void Loop::run_forever() {
  Task<void> stop_task = [&] {
    auto h = stopper().release();
    detail::Promise<void>& p = h.promise();
    p.is_task = true;
    p.resume_point = h;
    return Task<void>(&p);
  }();
  stop_task_ = stop_task.header();
  struct Clear {
    Loop& loop;
    ~Clear() { loop.stop_task_ = nullptr; }
  } clear{*this};
  run_until_finished(stop_task.header());
}

void Loop::stop() {
  if (stop_task_ == nullptr) return;
  detail::add_ref(stop_task_);  // the scheduler's reference while it is queued
  schedule_now(stop_task_);
  stop_task_ = nullptr;
}

void Loop::reset() {
  std::vector<detail::TaskHeader*> dropped;
  while (!ready_.empty())
    dropped.push_back(ready_.pop());
  timers_.for_each([&](detail::TaskHeader* t) { dropped.push_back(t); });
  timers_.clear();
  // Each queued task holds the scheduler's reference; a task nobody else refers to is destroyed
  // (its frame's destructors run), one that a handle still names stays, never to run.
  for (detail::TaskHeader* t : dropped)
    detail::release(t);
}

void Loop::call_exception_handler(const ExceptionContext& context) {
  if (handler_) {
    handler_(*this, context);
  } else {
    default_exception_handler(*this, context);
  }
}

void Loop::default_exception_handler(Loop&, const ExceptionContext& context) {
  std::string type = "unknown exception";
  std::string what;
  if (context.exception) {
    try {
      std::rethrow_exception(context.exception);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    try {
      std::rethrow_exception(context.exception);
    } catch (...) {
      if (std::type_info* ti = abi::__cxa_current_exception_type(); ti != nullptr) {
        int status = 0;
        std::unique_ptr<char, void (*)(void*)> name(
            abi::__cxa_demangle(ti->name(), nullptr, nullptr, &status), std::free);
        type = status == 0 && name ? name.get() : ti->name();
      }
    }
  }
  std::fprintf(stderr, "%s\nfuture: <Task %p>\n%s: %s\n", context.message.c_str(),
               static_cast<const void*>(context.future.header()), type.c_str(), what.c_str());
  std::fflush(stderr);
}

namespace {
thread_local std::unique_ptr<Loop> owned_loop;
}

Loop& get_event_loop() {
  if (!owned_loop) {
    owned_loop = std::make_unique<Loop>();
    detail::this_thread_loop = owned_loop.get();
  }
  return *owned_loop;
}

Loop& new_event_loop() {
  Loop& loop = get_event_loop();
  loop.reset();
  return loop;
}

std::int64_t ticks_ms() {
  return detail::current_loop().time_ms();
}

AnyTask current_task() {
  detail::TaskHeader* t = detail::current_loop().current();
  if (t == nullptr) throw RuntimeError("no running event loop");
  return AnyTask(t);
}

bool AnyTask::cancel() const {
  return detail::current_loop().cancel(h_);
}

bool AnyTask::cancelled() const noexcept {
  return h_->finished && h_->error && is_cancelled_error(h_->error);
}

Sleep sleep_ms(std::int64_t ms) {
  Loop& loop = detail::current_loop();
  if (ms < 0) ms = 0;
  // As in schedule_now: a zero sleep's key is only ever compared with sleepers' deadlines, so
  // with none queued the last reading of the clock serves and a yield costs no clock read.
  if (ms > 0 || loop.has_timers()) loop.refresh_now();
  if (ms > kMaxDelayMs) ms = kMaxDelayMs;
  return Sleep(loop.now() + ms);
}

std::int64_t detail::seconds_to_ms(double seconds) noexcept {
  const double ms = seconds * 1000.0;
  if (!(ms > 0)) return 0;
  if (ms >= static_cast<double>(kMaxDelayMs)) return kMaxDelayMs;
  return static_cast<std::int64_t>(ms);
}

Sleep sleep(double seconds) {
  return sleep_ms(detail::seconds_to_ms(seconds));
}

}  // namespace uasyncio
