// The fresh-task fast path (library-internal; included by scheduler.cpp only, where finish_task
// inlines hand_back). It makes `co_await create_task(f())` cost one task switch instead of
// three trips through the run queue, with exactly MicroPython's order.
//
// What MicroPython does: the awaiting task P suspends (queued in the child C's waiters); the
// scheduler pops C (the only entry of its queue), runs it; when C finishes it wakes P (key now),
// and if nothing else became due, pops P again.
//
// What we do, when that sequence is certain (run_awaited's conditions): P, still inside its
// await_suspend, runs C right there on its own stack (current_ = C). When C finishes,
// finish_task calls hand_back, which wakes P without queueing it if P would be the only task in
// the queue (nothing else due, no sleeper); run_awaited then returns false and P goes on as if
// it had been popped. If C suspends instead, or finishing C made something else due, P is left
// where MicroPython would have it (in C's waiters, or queued behind the others) and stays
// suspended (run_awaited returns true).
//
// The invariant, which every condition below protects: between P's suspension and its resumption
// the scheduler would have made exactly the steps "C" then "P", with no I/O poll, no other task
// and no timer in between. Hence:
//   - one level only: inline_child_ is null on entry (a chain of such awaits must not nest on
//     the stack), and the state below describes the one child running inline;
//   - C is fresh (not started, no pending cancel), is not a main task, and is the only queued
//     task; no sleeper is queued (a timer could fall due between the steps);
//   - no poll falls between the steps: two more steps stay below next_poll_at_ (which is one
//     step ahead while anything must be polled before every step, §4.3), and one more after C;
//   - the run ends after C if the main task finished or an error escapes (§1.4): then P is
//     queued and the scheduler returns to run_until_finished.
// State: inline_child_ (C while it runs inline), inline_parent_ (P), handed_back_ (hand_back
// woke P without queueing it). The awaiter's Task handle keeps C alive across the step, so the
// scheduler's reference can be dropped here without destroying C.
#pragma once

#include "uasyncio/detail/scheduler.hpp"

namespace uasyncio::detail {

// Called by finish_task for the child run inline (t == inline_child_), once it returned: wakes
// the parent without queueing it if it would be queued alone and picked next. Nothing has run
// since the parent suspended, so if run_awaited then cannot let it go on, queueing it lands it
// where it would have been, with the same key.
[[gnu::always_inline]] inline bool Scheduler::hand_back(TaskHeader* t) {
  Waiter* w = t->awaiters.front();
  if (w == nullptr || w->next != w || w->task != inline_parent_ || !ready_.empty() ||
      !timers_.empty() || t->refs < 2) {
    return false;
  }
  t->awaiters.remove(w);
  w->task->waiting_on = nullptr;
  handed_back_ = true;
  return true;
}

// Out of line (this header is included by scheduler.cpp alone); called by Task::Awaiter.
bool Scheduler::run_awaited(TaskHeader* child) {
  // (A main task that already finished, in a nested run, ends this run before the child runs.)
  if (inline_child_ != nullptr || child->started || child->error || child->is_main ||
      main_->finished || !ready_.holds_only(child) || !timers_.empty() ||
      steps_since_poll_ + 2 >= next_poll_at_) {
    return true;
  }
  TaskHeader* const self = current_;
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
    if (!escaping_ && !main_->finished && steps_since_poll_ + 1 < next_poll_at_) {
      ++steps_since_poll_;  // the child's step
      return false;
    }
    schedule_now(self);
    return true;
  }
  if (child->finished && !child->report_pending) intrusive_release(child);
  // Otherwise the scheduler carries on from here as it would after the child's step.
  if (escaping_ || main_->finished || !ready_.holds_only(self) || !timers_.empty() ||
      steps_since_poll_ + 1 >= next_poll_at_) {
    return true;
  }
  ready_.pop();
  ++steps_since_poll_;  // the child's step
  return false;
}

}  // namespace uasyncio::detail
