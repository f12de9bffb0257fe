// §4.1-4.2: one run queue ordered by wake-up time, FIFO among equal times.
#include <uasyncio/uasyncio.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "loop_fixture.hpp"

namespace ua = uasyncio;

namespace {

// "t<i>", appended: g++ 12 -O3 warns falsely on "t" + std::to_string(i) (PR 105329).
std::string task_name(int i) {
  std::string name = "t";
  name += std::to_string(i);
  return name;
}

class Scheduler : public LoopTest {
 protected:
  ua::Coro<void> note(std::string what) {
    log(what);
    co_return;
  }

  ua::Coro<void> spinner(int id, int rounds) {
    for (int r = 0; r < rounds; ++r) {
      log(std::to_string(id) + " " + std::to_string(r));
      co_await ua::sleep(0);
    }
  }

  ua::Coro<void> twelve_spinners() {
    std::vector<ua::Task<void>> tasks;
    for (int i = 0; i < 12; ++i)
      tasks.push_back(ua::create_task(spinner(i, 3)));
    for (ua::Task<void>& t : tasks)
      co_await t;
  }

  ua::Coro<void> sleeps_then_notes(int ms, std::string what) {
    co_await ua::sleep_ms(ms);
    log(what + " at " + std::to_string(elapsed_ms()));
  }

  ua::Coro<void> equal_timers() {
    std::vector<ua::Task<void>> tasks;
    for (int i = 0; i < 5; ++i) {
      tasks.push_back(ua::create_task(sleeps_then_notes(10, task_name(i))));
    }
    for (ua::Task<void>& t : tasks)
      co_await t;
  }

  // Reaches the same deadline (20 ms) from different start times: arrival order decides.
  ua::Coro<void> same_deadline_from_different_starts() {
    ua::Task<void> late = ua::create_task(late_sleeper());
    ua::Task<void> early = ua::create_task(sleeps_then_notes(20, "early"));
    co_await late;
    co_await early;
  }
  ua::Coro<void> late_sleeper() {
    co_await ua::sleep_ms(5);
    co_await sleeps_then_notes(15, "late");
  }

  ua::Coro<void> mixed_timers() {
    const int delays[] = {30, 10, 20, 10, 0, 5, 30, 0};
    std::vector<ua::Task<void>> tasks;
    for (int i = 0; i < 8; ++i) {
      tasks.push_back(ua::create_task(sleeps_then_notes(delays[i], task_name(i))));
    }
    for (ua::Task<void>& t : tasks)
      co_await t;
  }

  ua::Coro<void> expired_sleeper_vs_new_task() {
    ua::create_task(sleeps_then_logs_name(5, "sleeper"));
    co_await ua::sleep(0);  // the sleeper starts and sleeps
    // Hold the loop (a long synchronous step) well past the sleeper's deadline.
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(30);
    while (std::chrono::steady_clock::now() < until) {
    }
    ua::create_task(note("new task"));
    co_await ua::sleep(0);
    log("main");
  }
  ua::Coro<void> sleeps_then_logs_name(int ms, std::string what) {
    co_await ua::sleep_ms(ms);
    log(what);
  }

  // MicroPython's asyncio_fair.py task.
  ua::Coro<void> fair_task(int id, double t) {
    log("task start " + std::to_string(id));
    for (;;) {
      if (t > 0) log("task work " + std::to_string(id));
      co_await ua::sleep(t);
    }
  }
  // MicroPython's times (0.1 s, 0.18 s, 0.5 s) scaled by 3: on the real clock a loaded machine
  // must not be able to swap two events that are only 20 ms apart.
  ua::Coro<void> port_of_fair() {
    std::vector<ua::Task<void>> ts;
    ts.push_back(ua::create_task(fair_task(1, -0.01)));
    ts.push_back(ua::create_task(fair_task(2, 0.3)));
    ts.push_back(ua::create_task(fair_task(3, 0.54)));
    ts.push_back(ua::create_task(fair_task(4, -100)));
    co_await ua::sleep(1.5);
    for (ua::Task<void>& t : ts)
      t.cancel();
    log("finish");
  }
};

std::vector<std::string> round_robin_lines(int tasks, int rounds) {
  std::vector<std::string> v;
  for (int r = 0; r < rounds; ++r) {
    for (int i = 0; i < tasks; ++i)
      v.push_back(std::to_string(i) + " " + std::to_string(r));
  }
  return v;
}

}  // namespace

// §4.1
TEST_F(Scheduler, EqualKeysAreFifo) {
  ua::create_task(note("a"));
  ua::create_task(note("b"));
  ua::create_task(note("c"));
  ua::run(note("main"));
  EXPECT_EQ(lines_, (std::vector<std::string>{"a", "b", "c", "main"}));
}

// §4.1: verified on MicroPython with 12 tasks.
TEST_F(Scheduler, TwelveSleepZeroTasksRotateRoundRobin) {
  ua::run(twelve_spinners());
  EXPECT_EQ(lines_, round_robin_lines(12, 3));
}

// §4.1
TEST_F(Scheduler, EqualTimersAreFifo) {
  ua::run(equal_timers());
  EXPECT_EQ(lines_,
            (std::vector<std::string>{"t0 at 10", "t1 at 10", "t2 at 10", "t3 at 10", "t4 at 10"}));
}

// §4.1: equal deadlines keep arrival order even when the sleeps began at different times.
TEST_F(Scheduler, EqualDeadlinesKeepArrivalOrder) {
  ua::run(same_deadline_from_different_starts());
  EXPECT_EQ(lines_, (std::vector<std::string>{"early at 20", "late at 20"}));
}

// §4.1: the smallest key runs first (what asyncio_heaporder checks).
TEST_F(Scheduler, TimersWakeInDeadlineOrder) {
  ua::run(mixed_timers());
  EXPECT_EQ(lines_, (std::vector<std::string>{"t4 at 0", "t7 at 0", "t5 at 5", "t1 at 10",
                                              "t3 at 10", "t2 at 20", "t0 at 30", "t6 at 30"}));
}

// §4.2: needs the real clock, since it is about time passing while one step holds the loop.
TEST_F(Scheduler, ExpiredSleeperRunsBeforeTaskCreatedLater) {
  ua::get_event_loop().set_virtual_clock(false);
  ua::run(expired_sleeper_vs_new_task());
  EXPECT_EQ(lines_, (std::vector<std::string>{"sleeper", "new task", "main"}));
}

// MicroPython tests/extmod/asyncio_fair.py. Tasks 1 and 4 never stop being runnable, so
// virtual time would never advance: this one runs on the real clock (1.5 s).
TEST_F(Scheduler, PortOfAsyncioFair) {
  ua::get_event_loop().set_virtual_clock(false);
  ua::run(port_of_fair());
  EXPECT_EQ(lines_, (std::vector<std::string>{
                        "task start 1", "task start 2", "task work 2", "task start 3",
                        "task work 3", "task start 4", "task work 2", "task work 3", "task work 2",
                        "task work 2", "task work 3", "task work 2", "finish"}));
}
