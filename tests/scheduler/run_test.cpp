// §4.3-4.8: run() — what it returns or raises, what it leaves behind, nesting, and deadlock.
#include <uasyncio/uasyncio.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "loop_fixture.hpp"
#include "test_gate.hpp"

namespace ua = uasyncio;

namespace {

struct ValueError : std::runtime_error {
  explicit ValueError(int v) : std::runtime_error("ValueError " + std::to_string(v)) {}
};

class Run : public LoopTest {
 protected:
  std::string at() { return std::to_string(elapsed_ms()) + " "; }

  ua::Coro<int> returns(int v) {
    co_await ua::sleep_ms(3);
    co_return v;
  }

  // MicroPython tests/extmod/asyncio_exception.py, its three mains.
  ua::Coro<void> main_raises() {
    log("main start");
    throw ValueError(1);
    co_return;  // makes it a coroutine
  }
  ua::Coro<void> task_raises() {
    log("task start");
    throw ValueError(2);
    co_return;
  }
  ua::Coro<void> main_awaits_raising_task() {
    log("main start");
    ua::Task<void> t = ua::create_task(task_raises());
    co_await t;
    log("main done");
  }
  ua::Coro<void> never_scheduled_task() {
    log("task run");
    co_return;
  }
  ua::Coro<void> main_raises_with_pending_task() {
    log("main start");
    ua::create_task(never_scheduled_task());
    throw ValueError(3);
    co_return;
  }

  ua::Coro<void> cancels_after(ua::AnyTask t, int ms) {
    co_await ua::sleep_ms(ms);
    t.cancel();
  }
  ua::Coro<int> main_gets_cancelled() {
    ua::create_task(cancels_after(ua::current_task(), 5));
    co_await ua::sleep_ms(100);
    co_return 1;
  }

  ua::Coro<void> awaits_main(ua::Task<int> main) {
    log("waiter waits");
    try {
      log("waiter got " + std::to_string(co_await main));
    } catch (const ValueError&) {
      log("waiter got ValueError");
    }
  }
  ua::Coro<int> main_yields_then_raises() {
    co_await ua::sleep(0);
    throw ValueError(4);
  }
  ua::Coro<int> main_yields_then_returns() {
    co_await ua::sleep(0);
    co_return 8;
  }
  ua::Coro<void> yield_once() { co_await ua::sleep(0); }

  ua::Coro<void> ticker(int n, int period_ms) {
    for (int i = 0; i < n; ++i) {
      log(at() + "tick");
      co_await ua::sleep_ms(period_ms);
    }
  }
  ua::Coro<void> sleep_and_note(int ms, std::string what) {
    co_await ua::sleep_ms(ms);
    log(at() + what);
  }
  ua::Coro<void> starts_ticker_then_sleeps(int ms) {
    ticker_ = ua::create_task(ticker(100, 10));
    co_await sleep_and_note(ms, "first main done");
  }
  ua::Task<void> ticker_;

  // §4.8
  ua::Coro<int> inner_sleeps(int ms, int v) {
    log(at() + "inner start");
    co_await ua::sleep_ms(ms);
    log(at() + "inner end");
    co_return v;
  }
  ua::Coro<void> outer_with_nested_run() {
    ua::AnyTask self = ua::current_task();
    ua::create_task(ticker(3, 10));
    const int v = ua::run(inner_sleeps(25, 5));
    log(at() + "inner returned " + std::to_string(v));
    log(ua::current_task() == self ? "outer is current again" : "current task changed");
    co_await ua::sleep_ms(10);
    log(at() + "outer slept");
  }
  ua::Coro<int> inner_raises() {
    co_await ua::sleep_ms(5);
    throw ValueError(5);
  }
  ua::Coro<int> outer_catches_nested_run_error() {
    ua::AnyTask self = ua::current_task();
    try {
      ua::run(inner_raises());
      log("nested run returned");
    } catch (const ValueError& e) {
      log(at() + "outer caught " + e.what());
    }
    log(ua::current_task() == self ? "outer is current again" : "current task changed");
    co_await ua::sleep_ms(5);
    log(at() + "outer slept");
    co_return co_await returns(6);
  }
  // Seed 04's wait_for example: a nested run() whose wait_for times out at 7 s.
  ua::Coro<void> bar(int x) {
    int count = 0;
    for (;;) {
      ++count;
      log(at() + "Instance: " + std::to_string(x) + " count: " + std::to_string(count));
      co_await ua::sleep(2);
      log(at() + "sleep count instance = " + std::to_string(x) +
          " count = " + std::to_string(count));
    }
  }
  ua::Coro<void> seed04_main() {
    ua::run(ua::wait_for(bar(10), 7));
    log("after nested run");
    co_await ua::sleep(10);
  }

  // Deadlock: blocked on a gate nobody opens.
  test_support::Gate gate_;
  ua::Coro<int> waits_on_gate() {
    log("waiting");
    co_await gate_;
    log("released");
    co_return 11;
  }
  ua::Coro<int> awaits_gated_task() {
    ua::Task<int> t = ua::create_task(waits_on_gate());
    co_return co_await t + 1;
  }

  ua::Coro<void> sleeps_forever() { co_await ua::sleep(3600); }
  ua::Coro<void> seven_second_timeout() {
    try {
      co_await ua::wait_for(sleeps_forever(), 7);
    } catch (const ua::TimeoutError&) {
      log(at() + "TimeoutError");
    }
  }
};

using Clock = Run;

}  // namespace

// §4.6
TEST_F(Run, ReturnsMainValue) {
  EXPECT_EQ(ua::run(returns(42)), 42);
}

// §4.6
TEST_F(Run, RaisesMainException) {
  EXPECT_THROW(ua::run(main_raises()), ValueError);
  EXPECT_EQ(lines_, (std::vector<std::string>{"main start"}));
}

// §4.6: main ending by cancellation makes run() raise CancelledError.
TEST_F(Run, RaisesCancelledErrorWhenMainCancelled) {
  EXPECT_THROW(ua::run(main_gets_cancelled()), ua::CancelledError);
  EXPECT_EQ(elapsed_ms(), 5);
}

// §4.5a: run() re-raises at once; tasks awaiting main are not woken.
TEST_F(Run, MainExceptionRaisedWithoutWakingItsWaiters) {
  ua::Loop& loop = ua::get_event_loop();
  ua::Task<int> main = loop.create_task(main_yields_then_raises());
  ua::Task<void> waiter = loop.create_task(awaits_main(main));
  EXPECT_THROW(loop.run_until_complete(main), ValueError);
  ua::run(yield_once());
  EXPECT_FALSE(waiter.done());
  EXPECT_EQ(lines_, (std::vector<std::string>{"waiter waits"}));
  // Left waiting for good; the loop's reset (TearDown) destroys its frame with the handle's.
}

// §4.5a: a main that returns wakes its waiters, but run() returns before they run.
TEST_F(Run, MainReturnWakesWaitersThatRunLater) {
  ua::Loop& loop = ua::get_event_loop();
  ua::Task<int> main = loop.create_task(main_yields_then_returns());
  loop.create_task(awaits_main(main));
  EXPECT_EQ(loop.run_until_complete(main), 8);
  EXPECT_EQ(lines_, (std::vector<std::string>{"waiter waits"}));
  ua::run(yield_once());
  EXPECT_EQ(lines_, (std::vector<std::string>{"waiter waits", "waiter got 8"}));
}

// §4.7: leftovers are neither cancelled nor run; they resume (on their old deadlines) next run.
TEST_F(Run, LeftoverTasksResumeAtNextRun) {
  ua::run(starts_ticker_then_sleeps(25));
  EXPECT_FALSE(ticker_.done());
  EXPECT_EQ(lines_,
            (std::vector<std::string>{"0 tick", "10 tick", "20 tick", "25 first main done"}));
  lines_.clear();
  ua::run(sleep_and_note(20, "second main done"));
  EXPECT_EQ(lines_, (std::vector<std::string>{"30 tick", "40 tick", "45 second main done"}));
  EXPECT_FALSE(ticker_.done());
}

// §4.8: a nested run() drives the same loop (the ticker keeps going) and returns the value;
// afterwards the outer coroutine is the current task again and can await.
TEST_F(Run, NestedRunDrivesSameLoopAndReturnsValue) {
  ua::run(outer_with_nested_run());
  EXPECT_EQ(lines_, (std::vector<std::string>{"0 tick", "0 inner start", "10 tick", "20 tick",
                                              "25 inner end", "25 inner returned 5",
                                              "outer is current again", "35 outer slept"}));
}

// §4.8: a nested run() raises its main's exception into the outer coroutine, which goes on.
TEST_F(Run, NestedRunRaisesIntoOuterCoroutine) {
  EXPECT_EQ(ua::run(outer_catches_nested_run_error()), 6);
  EXPECT_EQ(lines_, (std::vector<std::string>{"5 outer caught ValueError 5",
                                              "outer is current again", "10 outer slept"}));
  EXPECT_EQ(elapsed_ms(), 13);
}

// §4.8/§19.4: seed 04 — the nested run's TimeoutError at 7 s leaves the outer run too.
TEST_F(Run, NestedRunTimeoutPropagatesOutOfOuterRun) {
  EXPECT_THROW(ua::run(seed04_main()), ua::TimeoutError);
  EXPECT_EQ(elapsed_ms(), 7000);
  EXPECT_EQ(lines_, (std::vector<std::string>{
                        "0 Instance: 10 count: 1", "2000 sleep count instance = 10 count = 1",
                        "2000 Instance: 10 count: 2", "4000 sleep count instance = 10 count = 2",
                        "4000 Instance: 10 count: 3", "6000 sleep count instance = 10 count = 3",
                        "6000 Instance: 10 count: 4"}));
}

// §4.3 (C++ choice): where MicroPython would poll forever, a main that nothing can wake raises
// RuntimeError; the loop stays usable and the task can still be finished later.
TEST_F(Run, DeadlockRaisesRuntimeError) {
  ua::Loop& loop = ua::get_event_loop();
  ua::Task<int> main = loop.create_task(waits_on_gate());
  EXPECT_THROW(loop.run_until_complete(main), ua::RuntimeError);
  EXPECT_FALSE(main.done());
  gate_.open();
  EXPECT_EQ(loop.run_until_complete(main), 11);
  EXPECT_EQ(lines_, (std::vector<std::string>{"waiting", "released"}));
}

// §4.3: the same when main waits on another task that is blocked.
TEST_F(Run, DeadlockThroughAwaitedTaskRaisesRuntimeError) {
  ua::Loop& loop = ua::get_event_loop();
  ua::Task<int> main = loop.create_task(awaits_gated_task());
  EXPECT_THROW(loop.run_until_complete(main), ua::RuntimeError);
  gate_.open();
  EXPECT_EQ(loop.run_until_complete(main), 12);
}

// MicroPython tests/extmod/asyncio_exception.py
TEST_F(Run, PortOfAsyncioException) {
  auto run_logging_error = [this](ua::Coro<void> main) {
    try {
      ua::run(std::move(main));
    } catch (const ValueError& e) {
      log(e.what());
    }
  };
  run_logging_error(main_raises());
  run_logging_error(main_awaits_raising_task());
  run_logging_error(main_raises_with_pending_task());
  EXPECT_EQ(lines_,
            (std::vector<std::string>{"main start", "ValueError 1", "main start", "task start",
                                      "ValueError 2", "main start", "ValueError 3"}));
}

// §4.3 with the virtual clock: a 7 s wait_for costs no real waiting.
TEST_F(Clock, VirtualSevenSecondWaitForTakesNoRealTime) {
  const auto start = std::chrono::steady_clock::now();
  ua::run(seven_second_timeout());
  const auto real = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(lines_, (std::vector<std::string>{"7000 TimeoutError"}));
  EXPECT_EQ(elapsed_ms(), 7000);
  EXPECT_LT(real, std::chrono::seconds(1));
}
