// §5: sleep / sleep_ms — millisecond truncation, zero sleeps, and deadlines fixed at the call.
#include <uasyncio/uasyncio.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "loop_fixture.hpp"

namespace ua = uasyncio;

namespace {

class Sleep : public LoopTest {
 protected:
  std::string at() { return std::to_string(elapsed_ms()) + " "; }

  ua::Coro<std::int64_t> measure_sleep(double seconds) {
    const std::int64_t t0 = ua::ticks_ms();
    co_await ua::sleep(seconds);
    co_return ua::ticks_ms() - t0;
  }
  ua::Coro<std::int64_t> measure_sleep_ms(std::int64_t ms) {
    const std::int64_t t0 = ua::ticks_ms();
    co_await ua::sleep_ms(ms);
    co_return ua::ticks_ms() - t0;
  }

  ua::Coro<void> note(std::string what) {
    log(what);
    co_return;
  }

  ua::Coro<void> yields_twice(std::string name) {
    log(name + "1");
    co_await ua::sleep(0);
    log(name + "2");
    co_await ua::sleep_ms(0);
    log(name + "3");
  }
  ua::Coro<void> two_yielders() {
    ua::Task<void> x = ua::create_task(yields_twice("x"));
    ua::Task<void> y = ua::create_task(yields_twice("y"));
    co_await x;
    co_await y;
  }

  ua::Coro<void> zero_sleep_behind_ready_tasks() {
    ua::create_task(note("a"));
    ua::create_task(note("b"));
    co_await ua::sleep(0);
    log("main");
  }

  ua::Coro<void> negative_sleep_still_yields() {
    ua::create_task(note("other"));
    co_await ua::sleep(-1);
    log("main");
  }

  ua::Coro<void> deadline_fixed_at_call() {
    ua::Sleep s = ua::sleep(0.2);
    co_await ua::sleep_ms(300);
    log(at() + "awaiting the old sleep");
    co_await s;
    log(at() + "resumed");
  }

  ua::Coro<void> huge_sleeper() {
    try {
      co_await ua::sleep_ms(std::numeric_limits<std::int64_t>::max());
      log("woke");
    } catch (const ua::CancelledError&) {
      log(at() + "cancelled");
    }
  }
  ua::Coro<void> cancels_huge_sleeper() {
    ua::Task<void> t = ua::create_task(huge_sleeper());
    co_await ua::sleep_ms(10);
    t.cancel();
    co_await t;
  }

  // MicroPython tests/extmod/asyncio_basic.py
  ua::Coro<void> delay_print(double t, std::string s) {
    co_await ua::sleep(t);
    log(s);
  }
  ua::Coro<void> port_of_basic() {
    log("start");
    co_await ua::sleep(0.001);
    log("after sleep");
    const std::int64_t t0 = ua::ticks_ms();
    co_await delay_print(0.2, "short");
    const std::int64_t t1 = ua::ticks_ms();
    co_await delay_print(0.4, "long");
    const std::int64_t t2 = ua::ticks_ms();
    co_await delay_print(-1, "negative");
    const std::int64_t t3 = ua::ticks_ms();
    log("took " + std::to_string(t1 - t0) + " " + std::to_string(t2 - t1) + " " +
        std::to_string(t3 - t2));
  }

  // MicroPython tests/extmod/asyncio_basic2.py
  ua::Coro<void> forever() {
    log("forever start");
    co_await ua::sleep(10);
  }
  ua::Coro<int> port_of_basic2() {
    log("main start");
    ua::create_task(forever());
    co_await ua::sleep(0.001);
    log("main done");
    co_return 42;
  }

  // MicroPython tests/extmod/asyncio_micropython.py (its sleep_ms and wait_for_ms parts)
  ua::Coro<int> mp_task(int id, int t) {
    log("task start " + std::to_string(id));
    co_await ua::sleep_ms(t);
    log("task end " + std::to_string(id));
    co_return id * 2;
  }
  ua::Coro<void> port_of_micropython() {
    const std::int64_t t0 = ua::ticks_ms();
    co_await ua::sleep_ms(1);
    log(ua::ticks_ms() - t0 < 100 ? "True" : "False");
    log(std::to_string(co_await ua::wait_for_ms(mp_task(1, 5), 50)));
    try {
      log(std::to_string(co_await ua::wait_for_ms(mp_task(2, 50), 5)));
    } catch (const ua::TimeoutError&) {
      log("timeout");
    }
    log("finish");
  }
};

}  // namespace

// §5.1
TEST_F(Sleep, SecondsTruncatedToMs) {
  EXPECT_EQ(ua::sleep(0.0019).deadline() - ua::ticks_ms(), 1);
  EXPECT_EQ(ua::sleep(0.0004).deadline() - ua::ticks_ms(), 0);
  EXPECT_EQ(ua::sleep(1.9999).deadline() - ua::ticks_ms(), 1999);
  EXPECT_EQ(ua::run(measure_sleep(0.0019)), 1);
  EXPECT_EQ(ua::run(measure_sleep(0.0004)), 0);
  EXPECT_EQ(ua::run(measure_sleep(0.25)), 250);
}

// §5.1
TEST_F(Sleep, NegativeCountsAsZero) {
  EXPECT_EQ(ua::sleep(-1).deadline() - ua::ticks_ms(), 0);
  EXPECT_EQ(ua::sleep_ms(-5).deadline() - ua::ticks_ms(), 0);
  EXPECT_EQ(ua::run(measure_sleep(-0.5)), 0);
  EXPECT_EQ(ua::run(measure_sleep_ms(-5)), 0);
}

// §5.1
TEST_F(Sleep, SleepMsWaitsThatManyMilliseconds) {
  EXPECT_EQ(ua::run(measure_sleep_ms(37)), 37);
  EXPECT_EQ(elapsed_ms(), 37);
}

// §5.3: each zero sleep is one turn, no more, no less.
TEST_F(Sleep, ZeroYieldsExactlyOnce) {
  ua::run(two_yielders());
  EXPECT_EQ(lines_, (std::vector<std::string>{"x1", "y1", "x2", "y2", "x3", "y3"}));
}

// §5.3: a zero sleep resumes after every task already ready.
TEST_F(Sleep, ZeroRunsAfterAllReadyTasks) {
  ua::run(zero_sleep_behind_ready_tasks());
  EXPECT_EQ(lines_, (std::vector<std::string>{"a", "b", "main"}));
}

// §5.1/§5.3: a negative sleep is a zero sleep, so it yields too.
TEST_F(Sleep, NegativeStillYields) {
  ua::run(negative_sleep_still_yields());
  EXPECT_EQ(lines_, (std::vector<std::string>{"other", "main"}));
}

// §5.4: created at 0 for 200 ms, awaited at 300 ms: resumes at once.
TEST_F(Sleep, DeadlineFixedAtCall) {
  ua::run(deadline_fixed_at_call());
  EXPECT_EQ(lines_, (std::vector<std::string>{"300 awaiting the old sleep", "300 resumed"}));
}

// §5.2 (C++ choice): with 64-bit ticks there is no tick period to overflow, so a huge sleep is
// clamped (MicroPython raises OverflowError past TICKS_MAX//2); it is still an ordinary,
// cancellable sleep.
TEST_F(Sleep, HugeDurationSaturatesWithoutOverflow) {
  EXPECT_GT(ua::sleep_ms(std::numeric_limits<std::int64_t>::max()).deadline(), ua::ticks_ms());
  EXPECT_GT(ua::sleep(1e300).deadline(), ua::ticks_ms());
  ua::run(cancels_huge_sleeper());
  EXPECT_EQ(lines_, (std::vector<std::string>{"10 cancelled"}));
}

// MicroPython tests/extmod/asyncio_basic.py
TEST_F(Sleep, PortOfAsyncioBasic) {
  ua::run(port_of_basic());
  EXPECT_EQ(lines_, (std::vector<std::string>{"start", "after sleep", "short", "long", "negative",
                                              "took 200 400 0"}));
}

// MicroPython tests/extmod/asyncio_basic2.py
TEST_F(Sleep, PortOfAsyncioBasic2) {
  log(std::to_string(ua::run(port_of_basic2())));
  EXPECT_EQ(lines_, (std::vector<std::string>{"main start", "forever start", "main done", "42"}));
}

// MicroPython tests/extmod/asyncio_micropython.py, without its OverflowError line (see
// HugeDurationSaturatesWithoutOverflow).
TEST_F(Sleep, PortOfAsyncioMicropython) {
  ua::run(port_of_micropython());
  EXPECT_EQ(lines_, (std::vector<std::string>{"True", "task start 1", "task end 1", "2",
                                              "task start 2", "timeout", "finish"}));
}

// Issue 10: deadlines saturate. On the virtual clock every sleep of 1e308 s jumps the clock to its
// deadline; the fifth would overflow a signed 64-bit deadline (UBSan aborts; Release wrapped it
// into the past, so the sleep ended at once and the clock stopped).
namespace {
ua::Coro<std::vector<std::int64_t>> sleeps_forever_repeatedly() {
  std::vector<std::int64_t> times;
  for (int i = 0; i < 10; ++i) {
    co_await ua::sleep(1e308);
    times.push_back(ua::ticks_ms());
  }
  co_return times;
}
}  // namespace

TEST_F(Sleep, RepeatedHugeSleepsSaturateTheDeadline) {
  const std::vector<std::int64_t> times = ua::run(sleeps_forever_repeatedly());
  ASSERT_EQ(times.size(), 10u);
  for (std::size_t i = 1; i < times.size(); ++i)
    EXPECT_GE(times[i], times[i - 1]);
  EXPECT_EQ(times.back(), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(ua::sleep_ms(5).deadline(), std::numeric_limits<std::int64_t>::max());
}
