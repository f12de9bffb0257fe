// §9 wait_for / wait_for_ms, and ports of MicroPython's asyncio_wait_for and
// asyncio_wait_for_fwd. Times are virtual milliseconds since the test started ("@ms").
#include <gtest/gtest.h>
#include <uasyncio/uasyncio.hpp>

#include <cstdint>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "recorder.hpp"

namespace ua = uasyncio;

namespace {

struct ValueError : std::runtime_error {
  explicit ValueError(int v) : std::runtime_error("ValueError(" + std::to_string(v) + ")") {}
};

// MicroPython's test helper: prints, sleeps, returns twice its id.
ua::Coro<int> task(int id, double t) {
  say("task start " + std::to_string(id));
  co_await ua::sleep(t);
  say("task end " + std::to_string(id));
  co_return id * 2;
}

ua::Coro<int> value_after_ms(std::int64_t ms, int v) {
  co_await ua::sleep_ms(ms);
  co_return v;
}

ua::Coro<int> quick(int v) {
  co_return v;
}

// Catches the cancel, spends `cleanup_ms` cleaning up, then lets the cancel go on.
ua::Coro<int> slow_to_cancel(std::int64_t cleanup_ms) {
  say("inner start");
  bool cancelled = false;
  try {
    co_await ua::sleep(10);
  } catch (const ua::CancelledError&) {
    cancelled = true;
  }
  if (cancelled) {
    say(at("inner cancelled"));
    co_await ua::sleep_ms(cleanup_ms);
    say(at("inner cleanup done"));
    throw ua::CancelledError();
  }
  co_return 0;
}

// Catches the cancel and returns a value as if nothing happened.
ua::Coro<int> swallow_cancel(int v) {
  try {
    co_await ua::sleep(10);
  } catch (const ua::CancelledError&) {
    say(at("swallowed"));
  }
  co_return v;
}

template <class T>
ua::Coro<void> log_wait_for_ms(ua::Coro<T> aw, std::int64_t timeout_ms) {
  try {
    const T v = co_await ua::wait_for_ms(std::move(aw), timeout_ms);
    say(at("result " + std::to_string(v)));
  } catch (const ua::TimeoutError&) {
    say(at("TimeoutError"));
  } catch (const ua::CancelledError&) {
    say(at("CancelledError"));
  }
}

}  // namespace

using WaitFor = Recorder;

// ---- §9.1 ----

ua::Coro<void> not_awaited_yet() {
  ua::Coro<int> w = ua::wait_for(task(1, 0.01), 1);
  co_await ua::sleep_ms(50);
  say(at("slept"));
  const int v = co_await w;
  say(at(std::to_string(v)));
}

TEST_F(WaitFor, NothingHappensUntilAwaited) {
  ua::run(not_awaited_yet());
  EXPECT_EQ(lines_, (Lines{"slept @50", "task start 1", "task end 1", "2 @60"}));
}

ua::Coro<bool> runs_in_other_task(ua::AnyTask caller) {
  co_return !(ua::current_task() == caller);
}

ua::Coro<void> promoted_to_task() {
  const bool other = co_await ua::wait_for(runs_in_other_task(ua::current_task()), 1);
  say(other ? "own task" : "caller's task");
}

TEST_F(WaitFor, CoroutineIsPromotedToATask) {
  ua::run(promoted_to_task());
  EXPECT_EQ(lines_, (Lines{"own task"}));
}

ua::Coro<void> task_argument() {
  ua::Task<int> done_in_time = ua::create_task(value_after_ms(10, 4));
  say(at("result " + std::to_string(co_await ua::wait_for(done_in_time, 1))));
  EXPECT_TRUE(done_in_time.done());

  ua::Task<int> too_slow = ua::create_task(value_after_ms(1000, 5));
  try {
    co_await ua::wait_for(too_slow, 0.1);
  } catch (const ua::TimeoutError&) {
    say(at("TimeoutError"));
  }
  // The very task handed in was the one cancelled.
  EXPECT_TRUE(too_slow.cancelled());
}

TEST_F(WaitFor, TaskArgumentIsUsedAsItIs) {
  ua::run(task_argument());
  EXPECT_EQ(lines_, (Lines{"result 4 @10", "TimeoutError @110"}));
}

// ---- §9.2: C++ has no `None`; an unbounded timeout is its equivalent ----

ua::Coro<void> unbounded() {
  const int v = co_await ua::wait_for(task(3, 100000), std::numeric_limits<double>::infinity());
  say(at(std::to_string(v)));
}

TEST_F(WaitFor, InfiniteTimeoutJustAwaits) {
  ua::run(unbounded());
  EXPECT_EQ(lines_, (Lines{"task start 3", "task end 3", "6 @100000000"}));
}

// ---- §9.3 ----

ua::Coro<void> truncation_through_wait_for() {
  try {
    co_await ua::wait_for(value_after_ms(2, 1), 0.0019);
  } catch (const ua::TimeoutError&) {
    say(at("TimeoutError"));
  }
  try {
    co_await ua::wait_for(value_after_ms(1, 1), 0.0004);
  } catch (const ua::TimeoutError&) {
    say(at("TimeoutError"));
  }
}

TEST_F(WaitFor, WaitForTruncatesSecondsLikeSleep) {
  ua::run(truncation_through_wait_for());
  EXPECT_EQ(lines_, (Lines{"TimeoutError @1", "TimeoutError @1"}));
}

ua::Coro<void> wait_for_ms_cases() {
  co_await log_wait_for_ms(value_after_ms(30, 1), 20);
  co_await log_wait_for_ms(value_after_ms(30, 2), 40);
  co_await log_wait_for_ms(quick(3), -5);  // a negative timeout counts as 0
}

TEST_F(WaitFor, WaitForMsCountsMilliseconds) {
  ua::run(wait_for_ms_cases());
  EXPECT_EQ(lines_, (Lines{"TimeoutError @20", "result 2 @50", "result 3 @50"}));
}

// ---- §9.4 ----

ua::Coro<void> result_first() {
  const int v = co_await ua::wait_for(task(1, 0.01), 10);
  say(at(std::to_string(v)));
  // The caller is not disturbed later by the timeout it no longer waits for.
  co_await ua::sleep(20);
  say(at("slept past the timeout"));
}

TEST_F(WaitFor, ResultPassesThroughAsSoonAsTheAwaitableReturns) {
  ua::run(result_first());
  EXPECT_EQ(lines_,
            (Lines{"task start 1", "task end 1", "2 @10", "slept past the timeout @20010"}));
}

// ---- §9.5 ----

ua::Coro<int> raise_after_ms(std::int64_t ms, int v) {
  co_await ua::sleep_ms(ms);
  throw ValueError(v);
}

ua::Coro<void> exception_first() {
  ua::Task<int> t = ua::create_task(raise_after_ms(10, 7));
  const void* caught = nullptr;
  try {
    co_await ua::wait_for(t, 1);
  } catch (const ValueError& e) {
    caught = &e;
    say(at(e.what()));
  }
  const void* original = nullptr;
  try {
    std::rethrow_exception(t.exception());
  } catch (const ValueError& e) {
    original = &e;
  }
  EXPECT_EQ(caught, original) << "wait_for must raise the awaitable's own exception object";
}

TEST_F(WaitFor, ExceptionPassesThroughAsTheSameObject) {
  ua::run(exception_first());
  EXPECT_EQ(lines_, (Lines{"ValueError(7) @10"}));
}

ua::Coro<void> cancel_other_after(ua::AnyTask other, int ms) {
  co_await ua::sleep_ms(ms);
  other.cancel();
}

ua::Coro<void> awaitable_cancelled_elsewhere() {
  ua::Task<int> t = ua::create_task(value_after_ms(1000, 1));
  ua::create_task(cancel_other_after(t, 10));
  try {
    co_await ua::wait_for(t, 1);
  } catch (const ua::CancelledError&) {
    say(at("CancelledError"));
  }
}

TEST_F(WaitFor, AwaitableCancelledByAnotherTaskRaisesCancelledError) {
  ua::run(awaitable_cancelled_elsewhere());
  EXPECT_EQ(lines_, (Lines{"CancelledError @10"}));
}

// ---- §9.6 ----

TEST_F(WaitFor, TimeoutCancelsInnerAndWaitsForIt) {
  ua::run(log_wait_for_ms(slow_to_cancel(1000), 100));
  EXPECT_EQ(lines_, (Lines{"inner start", "inner cancelled @100", "inner cleanup done @1100",
                           "TimeoutError @1100"}));
}

ua::Coro<void> swallowed_with_value() {
  ua::Task<int> t = ua::create_task(swallow_cancel(5));
  try {
    const int v = co_await ua::wait_for(t, 0.1);
    say("result " + std::to_string(v));
  } catch (const ua::TimeoutError&) {
    say(at("TimeoutError"));
  }
  // The value was produced, and discarded by wait_for.
  say("task result " + std::to_string(t.result()));
}

TEST_F(WaitFor, InnerThatSwallowsTheCancelAndReturnsStillTimesOut) {
  ua::run(swallowed_with_value());
  EXPECT_EQ(lines_, (Lines{"swallowed @100", "TimeoutError @100", "task result 5"}));
}

// Swallows the cancel and carries on for a while before returning.
ua::Coro<int> keeps_running_after_cancel() {
  bool cancelled = false;
  try {
    co_await ua::sleep(10);
  } catch (const ua::CancelledError&) {
    cancelled = true;
  }
  if (cancelled) {
    for (int i = 0; i < 3; ++i) {
      co_await ua::sleep_ms(100);
      say(at("still running"));
    }
  }
  co_return 1;
}

TEST_F(WaitFor, KeepsWaitingWhileTheInnerIgnoresTheCancel) {
  ua::run(log_wait_for_ms(keeps_running_after_cancel(), 50));
  EXPECT_EQ(lines_, (Lines{"still running @150", "still running @250", "still running @350",
                           "TimeoutError @350"}));
}

// ---- §9.7 ----

ua::Coro<void> outer_wait_for(std::int64_t cleanup_ms) {
  try {
    co_await ua::wait_for(slow_to_cancel(cleanup_ms), 10);
  } catch (const ua::CancelledError&) {
    say(at("outer cancelled"));
    throw;
  }
}

ua::Coro<void> cancel_the_wait_for() {
  ua::Task<void> outer = ua::create_task(outer_wait_for(1000));
  co_await ua::sleep(0.1);
  outer.cancel();
  try {
    co_await outer;
  } catch (const ua::CancelledError&) {
    say(at("main saw CancelledError"));
  }
  co_await ua::sleep(2);  // lets the inner finish its cleanup
}

TEST_F(WaitFor, CancellingTheWaitForCancelsInnerAndRaisesAtOnce) {
  ua::run(cancel_the_wait_for());
  EXPECT_EQ(lines_, (Lines{"inner start", "outer cancelled @100", "inner cancelled @100",
                           "main saw CancelledError @100", "inner cleanup done @1100"}));
}

ua::Coro<int> ends_after_one_yield(int v) {
  co_await ua::sleep(0);
  co_return v;
}

ua::Coro<void> wait_for_quick_task(int v) {
  try {
    const int r = co_await ua::wait_for(ends_after_one_yield(v), 2);
    say("result " + std::to_string(r));
  } catch (const ua::CancelledError&) {
    say("wait_for cancelled");
    throw;
  }
}

// The runner has already woken the caller with the result when the cancel arrives: the cancel
// wins (MicroPython a1afb337d2).
ua::Coro<void> cancel_racing_the_result() {
  ua::Task<void> t = ua::create_task(wait_for_quick_task(9));
  for (int i = 0; i < 4; ++i)
    co_await ua::sleep(0);
  EXPECT_FALSE(t.done());
  t.cancel();
  try {
    co_await t;
  } catch (const ua::CancelledError&) {
    say("CancelledError");
  }
}

TEST_F(WaitFor, CancelArrivingAsTheAwaitableFinishesStillRaisesCancelledError) {
  ua::run(cancel_racing_the_result());
  EXPECT_EQ(lines_, (Lines{"wait_for cancelled", "CancelledError"}));
}

// ---- §9.8 ----

ua::Coro<void> zero_timeouts() {
  say("wait_for " + std::to_string(co_await ua::wait_for(quick(1), 0)));
  say("wait_for_ms " + std::to_string(co_await ua::wait_for_ms(quick(2), 0)));
}

TEST_F(WaitFor, ZeroTimeoutStillReturnsAQuickResult) {
  ua::run(zero_timeouts());
  EXPECT_EQ(lines_, (Lines{"wait_for 1", "wait_for_ms 2"}));
}

// ---- §9.9: the runner holds on to the caller ----

ua::Coro<void> caller_swallows_its_cancel() {
  bool cancelled = false;
  try {
    co_await ua::wait_for(slow_to_cancel(1000), 10);
  } catch (const ua::CancelledError&) {
    cancelled = true;
  }
  if (!cancelled) co_return;
  say(at("outer swallowed its cancel"));
  try {
    co_await ua::sleep(5);
    say(at("slept undisturbed"));
  } catch (const ua::CancelledError&) {
    say(at("unrelated sleep cancelled"));
  }
}

ua::Coro<void> runner_outlives_the_wait_for() {
  ua::Task<void> outer = ua::create_task(caller_swallows_its_cancel());
  co_await ua::sleep(0.1);
  outer.cancel();
  co_await outer;
}

// MicroPython's runner still names the caller and, when the inner finally ends, cancels it in
// whatever it sleeps in then (§9.9). A cancel out of nowhere is a hazard, not a feature: here the
// runner only wakes a caller that is still inside that wait_for.
TEST_F(WaitFor, RunnerDoesNotCancelACallerThatMovedOn) {
  ua::run(runner_outlives_the_wait_for());
  EXPECT_EQ(lines_, (Lines{"inner start", "outer swallowed its cancel @100", "inner cancelled @100",
                           "inner cleanup done @1100", "slept undisturbed @5100"}));
}

// ---- MicroPython tests/extmod/asyncio_wait_for.py ----

using MicroPython = Recorder;

ua::Coro<void> task_catch() {
  say("task_catch start");
  try {
    co_await ua::sleep(0.2);
  } catch (const ua::CancelledError&) {
    say("ignore cancel");
  }
  say("task_catch done");
}

ua::Coro<void> mp_task_raise() {
  say("task start");
  throw ValueError(0);
  co_return;
}

ua::Coro<void> task_cancel_other(double t, ua::AnyTask other) {
  say("task_cancel_other start");
  co_await ua::sleep(t);
  say("task_cancel_other cancel");
  other.cancel();
}

ua::Coro<void> task_wait_for_cancel(int id, double t, double t_wait) {
  say("task_wait_for_cancel start");
  try {
    co_await ua::wait_for(task(id, t), t_wait);
  } catch (const ua::CancelledError&) {
    say("task_wait_for_cancel cancelled");
    throw;
  }
}

ua::Coro<void> task_wait_for_cancel_ignore(double t_wait) {
  say("task_wait_for_cancel_ignore start");
  try {
    co_await ua::wait_for(task_catch(), t_wait);
  } catch (const ua::CancelledError&) {
    say("task_wait_for_cancel_ignore cancelled");
    throw;
  }
}

ua::Coro<void> wait_for_main() {
  const std::string sep = "----------";

  say(std::to_string(co_await ua::wait_for(task(1, 0.01), 10)));
  say(sep);

  try {
    say(std::to_string(co_await ua::wait_for(task(2, 10), 0.01)));
  } catch (const ua::TimeoutError&) {
    say("timeout");
  }
  say(sep);

  try {
    co_await ua::wait_for(task_catch(), 0.1);
    say("None");
  } catch (const ua::TimeoutError&) {
    say("TimeoutError");
  }
  say(sep);

  try {
    co_await ua::wait_for(mp_task_raise(), 1);
    say("None");
  } catch (const ValueError&) {
    say("ValueError");
  }
  say(sep);

  say(std::to_string(co_await ua::wait_for(task(3, 0.1), std::numeric_limits<double>::infinity())));
  say(sep);

  ua::Task<int> t4 = ua::create_task(task(4, 10));
  ua::create_task(task_cancel_other(0.01, t4));
  try {
    say(std::to_string(co_await ua::wait_for(t4, 1)));
  } catch (const ua::CancelledError&) {
    say("CancelledError()");
  }
  say(sep);

  ua::Task<void> t = ua::create_task(task_wait_for_cancel(4, 1, 2));
  co_await ua::sleep(0.01);
  t.cancel();
  co_await ua::sleep(0.01);
  say(sep);

  t = ua::create_task(task_wait_for_cancel_ignore(2));
  co_await ua::sleep(0.01);
  t.cancel();
  co_await ua::sleep(0.01);
  say(sep);

  for (int num_sleep = 1; num_sleep < 5; ++num_sleep) {
    t = ua::create_task(task_wait_for_cancel(4 + num_sleep, 0, 2));
    for (int i = 0; i < num_sleep; ++i)
      co_await ua::sleep(0);
    EXPECT_FALSE(t.done());
    say("cancel wait_for");
    t.cancel();
    try {
      co_await t;
    } catch (const ua::CancelledError&) {
      say("CancelledError()");
    }
    say(sep);
  }

  say("finish");
}

TEST_F(MicroPython, AsyncioWaitFor) {
  ua::run(wait_for_main());
  const std::string sep = "----------";
  EXPECT_EQ(lines_, (Lines{"task start 1",
                           "task end 1",
                           "2",
                           sep,
                           "task start 2",
                           "timeout",
                           sep,
                           "task_catch start",
                           "ignore cancel",
                           "task_catch done",
                           "TimeoutError",
                           sep,
                           "task start",
                           "ValueError",
                           sep,
                           "task start 3",
                           "task end 3",
                           "6",
                           sep,
                           "task start 4",
                           "task_cancel_other start",
                           "task_cancel_other cancel",
                           "CancelledError()",
                           sep,
                           "task_wait_for_cancel start",
                           "task start 4",
                           "task_wait_for_cancel cancelled",
                           sep,
                           "task_wait_for_cancel_ignore start",
                           "task_catch start",
                           "task_wait_for_cancel_ignore cancelled",
                           "ignore cancel",
                           "task_catch done",
                           sep,
                           "task_wait_for_cancel start",
                           "cancel wait_for",
                           "task start 5",
                           "task_wait_for_cancel cancelled",
                           "CancelledError()",
                           sep,
                           "task_wait_for_cancel start",
                           "task start 6",
                           "cancel wait_for",
                           "task end 6",
                           "task_wait_for_cancel cancelled",
                           "CancelledError()",
                           sep,
                           "task_wait_for_cancel start",
                           "task start 7",
                           "task end 7",
                           "cancel wait_for",
                           "task_wait_for_cancel cancelled",
                           "CancelledError()",
                           sep,
                           "task_wait_for_cancel start",
                           "task start 8",
                           "task end 8",
                           "cancel wait_for",
                           "task_wait_for_cancel cancelled",
                           "CancelledError()",
                           sep,
                           "finish"}));
}

// ---- MicroPython tests/extmod/asyncio_wait_for_fwd.py ----

ua::Coro<bool> awaiting(double t, bool return_if_fail) {
  try {
    say("awaiting started");
    co_await ua::sleep(t);
  } catch (const ua::CancelledError&) {
    say("awaiting canceled");
    if (return_if_fail) co_return false;
    throw;
  }
  co_return true;
}

ua::Coro<void> fwd_wait(bool catch_it, bool catch_inside) {
  try {
    co_await ua::wait_for(awaiting(2, catch_inside), 1);
  } catch (const ua::TimeoutError&) {
    say("Got timeout error");
    throw;
  } catch (const ua::CancelledError&) {
    say("Got canceled");
    if (!catch_it) throw;
  }
}

ua::Coro<void> fwd_cancel(ua::AnyTask t) {
  say("cancel started");
  co_await ua::sleep(0.01);
  say("cancel wait()");
  t.cancel();
}

ua::Coro<void> test_cancellation_forwarded(bool catch_it, bool catch_inside) {
  say("----------");
  ua::Task<void> t = ua::create_task(fwd_wait(catch_it, catch_inside));
  ua::create_task(fwd_cancel(t));
  try {
    co_await t;
  } catch (const ua::CancelledError&) {
    say("waiting got cancelled");
  }
}

TEST_F(MicroPython, AsyncioWaitForFwd) {
  ua::run(test_cancellation_forwarded(false, false));
  ua::run(test_cancellation_forwarded(false, true));
  ua::run(test_cancellation_forwarded(true, true));
  ua::run(test_cancellation_forwarded(true, false));
  const Lines cancelled{"----------",           "cancel started", "awaiting started",
                        "cancel wait()",        "Got canceled",   "awaiting canceled",
                        "waiting got cancelled"};
  const Lines caught{"----------",    "cancel started", "awaiting started",
                     "cancel wait()", "Got canceled",   "awaiting canceled"};
  Lines expected;
  for (const Lines* part : {&cancelled, &cancelled, &caught, &caught}) {
    expected.insert(expected.end(), part->begin(), part->end());
  }
  EXPECT_EQ(lines_, expected);
}

// §9.5, §7.3, §10.9: wait_for raises exactly what awaiting its argument raised. A task that is a
// child of a running gather cannot be awaited: `await t` raises RuntimeError("can't wait"), and so
// must wait_for_ms(t, 200) (it raised "result is not ready", asking the unfinished task for its
// result after the runner swallowed the await's error).
namespace {
ua::Coro<std::string> wait_for_a_gathered_task() {
  ua::Task<int> child = ua::create_task(value_after_ms(100, 1));
  ua::Task<std::tuple<int>> g = ua::create_task(ua::gather(child));
  co_await ua::sleep_ms(0);  // the gather starts and registers the child
  std::string what;
  try {
    co_await ua::wait_for_ms(child, 200);
    what = "returned";
  } catch (const ua::RuntimeError& e) {
    what = at(e.what());
  }
  co_await g;
  co_return what;
}
}  // namespace

TEST_F(WaitFor, ReraisesWhatAwaitingTheArgumentRaised) {
  EXPECT_EQ(ua::run(wait_for_a_gathered_task()), "can't wait @0");
}
