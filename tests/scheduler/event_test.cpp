// Event (§11), including MicroPython's tests/extmod/asyncio_event.py and asyncio_event_fair.py.
#include <uasyncio/uasyncio.hpp>

#include <string>
#include <vector>

#include "allocation_counter.hpp"
#include "loop_fixture.hpp"

namespace ua = uasyncio;

namespace {

using Lines = std::vector<std::string>;

ua::Coro<bool> wait_event(ua::Event& ev) {
  co_return co_await ev.wait();
}

ua::Coro<void> logged_waiter(int id, ua::Event& ev, Lines& out) {
  out.push_back("start " + std::to_string(id));
  const bool r = co_await ev.wait();
  out.push_back(r ? "True" : "False");
  out.push_back("end " + std::to_string(id));
}

ua::Coro<void> delay_set(double seconds, ua::Event& ev, Lines& out) {
  co_await ua::sleep(seconds);
  out.push_back("set event");
  ev.set();
}

ua::Coro<void> log_line(std::string line, Lines& out) {
  out.push_back(std::move(line));
  co_return;
}

// asyncio_event.py's main, step for step.
ua::Coro<void> micropython_event_main(Lines& out) {
  ua::Event ev;
  out.push_back(ev.is_set() ? "True" : "False");
  ev.set();
  out.push_back(ev.is_set() ? "True" : "False");
  ev.clear();
  out.push_back(ev.is_set() ? "True" : "False");

  out.push_back("----");
  ua::create_task(logged_waiter(1, ev, out));
  ua::create_task(logged_waiter(2, ev, out));
  out.push_back("yield");
  co_await ua::sleep(0);
  out.push_back("set event");
  ev.set();
  out.push_back("yield");
  co_await ua::sleep(0);

  out.push_back("----");
  ua::create_task(logged_waiter(3, ev, out));
  out.push_back("yield");
  co_await ua::sleep(0);

  out.push_back("----");
  out.push_back("clear event");
  ev.clear();
  ua::create_task(logged_waiter(4, ev, out));
  co_await ua::sleep(0);
  out.push_back("set event");
  ev.set();
  co_await ua::sleep(0);

  // Cancel a waiter after the event was set: the cancel wins.
  out.push_back("----");
  ua::Event ev5;
  ua::Task<void> t = ua::create_task(logged_waiter(5, ev5, out));
  co_await ua::sleep(0);
  ev5.set();
  t.cancel();
  co_await ua::sleep(0.1);

  // Cancel a waiter, then set the event.
  out.push_back("----");
  ua::Event ev6;
  t = ua::create_task(logged_waiter(6, ev6, out));
  co_await ua::sleep(0);
  t.cancel();
  ev6.set();
  co_await ua::sleep(0.1);

  out.push_back("----");
  ev6.clear();
  ua::create_task(delay_set(0.01, ev6, out));
  co_await ua::wait_for(wait_event(ev6), 0.1);
  co_await ua::sleep(0);

  out.push_back("----");
  ev6.clear();
  ua::create_task(delay_set(0.1, ev6, out));
  try {
    co_await ua::wait_for(wait_event(ev6), 0.01);
  } catch (const ua::TimeoutError&) {
    out.push_back("TimeoutError");
  }
  co_await ev6.wait();
}

ua::Coro<void> fair_sleeper(int id, Lines& out) {
  for (int i = 0; i < 4; ++i) {
    out.push_back("sleep " + std::to_string(id));
    co_await ua::sleep(0);
  }
}

ua::Coro<void> fair_waiter(int id, ua::Event& ev, Lines& out) {
  for (int i = 0; i < 4; ++i) {
    ev.set();
    ev.clear();
    out.push_back("wait " + std::to_string(id));
    co_await ev.wait();
  }
}

ua::Coro<void> micropython_event_fair_main(Lines& out) {
  ua::Event ev;
  ua::create_task(fair_sleeper(0, out));
  ua::Task<void> waiter2 = ua::create_task(fair_waiter(2, ev, out));
  ua::create_task(fair_sleeper(1, out));
  ua::create_task(fair_waiter(3, ev, out));
  co_await waiter2;
  ev.set();
  co_await ua::sleep(0);  // lets waiter 3 finish before ev goes away
}

ua::Coro<void> wait_on_set_event(ua::Event& ev, Lines& out, bool* result) {
  ev.set();
  ua::create_task(log_line("other task", out));
  *result = co_await ev.wait();
  out.push_back("after wait");
  co_await ua::sleep(0);
}

ua::Coro<void> wait_after_delay(int id, std::int64_t delay_ms, ua::Event& ev, Lines& out) {
  co_await ua::sleep_ms(delay_ms);
  out.push_back("wait " + std::to_string(id));
  co_await ev.wait();
  out.push_back("woke " + std::to_string(id));
}

ua::Coro<void> wake_in_wait_order(ua::Event& ev, Lines& out) {
  for (int id = 0; id < 4; ++id)
    ua::create_task(wait_after_delay(id, 10 * (4 - id), ev, out));
  co_await ua::sleep_ms(100);
  ev.set();
  out.push_back("set");
  co_await ua::sleep(0);
}

ua::Coro<void> plain_waiter(int id, ua::Event& ev, Lines& out) {
  out.push_back("wait " + std::to_string(id));
  co_await ev.wait();
  out.push_back("woke " + std::to_string(id));
}

ua::Coro<void> set_behind_ready_tasks(ua::Event& ev, Lines& out) {
  ua::create_task(plain_waiter(0, ev, out));
  ua::create_task(plain_waiter(1, ev, out));
  co_await ua::sleep(0);
  ua::create_task(log_line("ready before set", out));
  ev.set();
  co_await ua::sleep(0);
}

ua::Coro<void> clear_after_set(ua::Event& ev, Lines& out) {
  ua::create_task(plain_waiter(0, ev, out));
  ua::create_task(plain_waiter(1, ev, out));
  co_await ua::sleep(0);
  ev.set();
  ev.clear();
  co_await ua::sleep(0);
  out.push_back(ev.is_set() ? "set" : "clear");
}

ua::Coro<void> guarded_waiter(int id, ua::Event& ev, Lines& out) {
  try {
    co_await ev.wait();
    out.push_back("woke " + std::to_string(id));
  } catch (const ua::CancelledError&) {
    out.push_back("cancelled " + std::to_string(id));
    throw;
  }
}

ua::Coro<void> cancel_one_waiter(ua::Event& ev, Lines& out, bool* cancelled) {
  ua::create_task(guarded_waiter(0, ev, out));
  ua::Task<void> victim = ua::create_task(guarded_waiter(1, ev, out));
  ua::create_task(guarded_waiter(2, ev, out));
  co_await ua::sleep(0);
  victim.cancel();
  co_await ua::sleep(0);
  *cancelled = victim.done() && victim.cancelled();
  ev.set();
  co_await ua::sleep(0);
}

ua::Coro<void> ping(ua::Event& mine, ua::Event& theirs, int rounds, long* count) {
  for (int i = 0; i < rounds; ++i) {
    co_await mine.wait();
    mine.clear();
    ++*count;
    theirs.set();
  }
}

ua::Coro<void> ping_pong(int rounds, long* count, long* allocated) {
  ua::Event a;
  ua::Event b;
  ua::Task<void> pa = ua::create_task(ping(a, b, rounds, count));
  ua::Task<void> pb = ua::create_task(ping(b, a, rounds, count));
  a.set();
  // Warm up so that the scheduler's queues have their working size.
  while (*count < 20)
    co_await ua::sleep(0);
  const long before = test_support::allocations.load();
  co_await pa;
  co_await pb;
  *allocated = test_support::allocations.load() - before;
}

}  // namespace

using Event = LoopTest;

TEST_F(Event, StartsClearedAndSetClearToggleIsSet) {
  ua::Event ev;
  EXPECT_FALSE(ev.is_set());
  ev.set();
  EXPECT_TRUE(ev.is_set());
  ev.set();
  EXPECT_TRUE(ev.is_set());
  ev.clear();
  EXPECT_FALSE(ev.is_set());
}

TEST_F(Event, WaitOnSetEventReturnsTrueWithoutYielding) {
  ua::Event ev;
  bool result = false;
  ua::run(wait_on_set_event(ev, lines_, &result));
  EXPECT_TRUE(result);
  EXPECT_EQ(lines_, (Lines{"after wait", "other task"}));
}

TEST_F(Event, SetWakesAllWaitersInTheOrderTheyStartedWaiting) {
  ua::Event ev;
  ua::run(wake_in_wait_order(ev, lines_));
  EXPECT_EQ(lines_, (Lines{"wait 3", "wait 2", "wait 1", "wait 0", "set", "woke 3", "woke 2",
                           "woke 1", "woke 0"}));
  EXPECT_TRUE(ev.is_set());
}

TEST_F(Event, SetQueuesWaitersBehindTasksAlreadyReady) {
  ua::Event ev;
  ua::run(set_behind_ready_tasks(ev, lines_));
  EXPECT_EQ(lines_, (Lines{"wait 0", "wait 1", "ready before set", "woke 0", "woke 1"}));
}

TEST_F(Event, ClearAfterSetStillResumesWokenWaiters) {
  ua::Event ev;
  ua::run(clear_after_set(ev, lines_));
  EXPECT_EQ(lines_, (Lines{"wait 0", "wait 1", "woke 0", "woke 1", "clear"}));
}

TEST_F(Event, CancelledWaiterIsRemovedAndTheOthersStillWake) {
  ua::Event ev;
  bool cancelled = false;
  ua::run(cancel_one_waiter(ev, lines_, &cancelled));
  EXPECT_TRUE(cancelled);
  EXPECT_EQ(lines_, (Lines{"cancelled 1", "woke 0", "woke 2"}));
}

TEST_F(Event, MainWaitingOnAnEventNobodySetsIsADeadlockNotAHang) {
  ua::Event ev;
  ua::Loop& loop = ua::get_event_loop();
  ua::Task<bool> main = loop.create_task(wait_event(ev));
  EXPECT_THROW(loop.run_until_complete(main), ua::RuntimeError);
  // The abandoned task is still linked to the event: a cancel unlinks it and lets it end.
  EXPECT_TRUE(main.cancel());
  EXPECT_THROW(loop.run_until_complete(main), ua::CancelledError);
}

TEST_F(Event, MicroPythonAsyncioEvent) {
  ua::run(micropython_event_main(lines_));
  EXPECT_EQ(lines_, (Lines{"False",   "True",         "False",    "----",      "yield", "start 1",
                           "start 2", "set event",    "yield",    "True",      "end 1", "True",
                           "end 2",   "----",         "yield",    "start 3",   "True",  "end 3",
                           "----",    "clear event",  "start 4",  "set event", "True",  "end 4",
                           "----",    "start 5",      "----",     "start 6",   "----",  "set event",
                           "----",    "TimeoutError", "set event"}));
  EXPECT_EQ(elapsed_ms(), 310);  // 100 + 100 + 10 + 100
}

TEST_F(Event, MicroPythonAsyncioEventFair) {
  ua::run(micropython_event_fair_main(lines_));
  EXPECT_EQ(lines_, (Lines{"sleep 0", "wait 2", "sleep 1", "wait 3", "sleep 0", "sleep 1", "wait 2",
                           "sleep 0", "sleep 1", "wait 3", "sleep 0", "sleep 1", "wait 2", "wait 3",
                           "wait 2", "wait 3"}));
}

TEST_F(Event, WaitingAndWakingDoNotAllocate) {
  long count = 0;
  long allocated = -1;
  ua::run(ping_pong(10'000, &count, &allocated));
  EXPECT_EQ(count, 20'000);
  EXPECT_EQ(allocated, 0);
}
