// Issue 11: the most common Python idioms compile as written and behave as in MicroPython:
// wait_for / gather take every awaitable of the library (Event.wait, Lock.acquire,
// ThreadSafeFlag.wait, Queue get/put/join, Process.wait), in any mix with tasks and coroutines,
// in runtime lists (Awaitable<T>), with `None` for no timeout; the virtual clock can be moved by
// hand (Loop::advance_clock). Times are virtual milliseconds since the test started ("@ms").
#include <gtest/gtest.h>
#include <uasyncio/uasyncio.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "recorder.hpp"

namespace ua = uasyncio;

namespace {

using Idioms = Recorder;

ua::Coro<int> value_after_ms(std::int64_t ms, int v) {
  co_await ua::sleep_ms(ms);
  co_return v;
}

ua::Coro<void> sleep_for(std::int64_t ms) {
  co_await ua::sleep_ms(ms);
}

ua::Coro<void> set_after_ms(ua::Event& ev, std::int64_t ms) {
  co_await ua::sleep_ms(ms);
  ev.set();
}

// ---- wait_for(ev.wait(), 1) ----

ua::Coro<void> wait_for_event() {
  ua::Event ev;
  try {
    co_await ua::wait_for(ev.wait(), 1);
  } catch (const ua::TimeoutError&) {
    say(at("timeout"));
  }
  // §11.4: the timed-out waiter was removed: a set() now wakes nobody, and nothing is left
  // waiting on the event.
  ev.set();
  ev.clear();
  ua::create_task(set_after_ms(ev, 100));
  const bool got = co_await ua::wait_for(ev.wait(), 1);
  say(at(got ? "set" : "?"));
}

}  // namespace

TEST_F(Idioms, WaitForAnEventWait) {
  ua::run(wait_for_event());
  EXPECT_EQ(lines_, (Lines{"timeout @1000", "set @1100"}));
}

namespace {

// ---- wait_for_ms(q.get(), 500): a getter that times out loses no item ----

ua::Coro<void> put_after_ms(ua::Queue<int>& q, std::int64_t ms, int v) {
  co_await ua::sleep_ms(ms);
  co_await q.put(v);
}

ua::Coro<void> wait_for_queue_get() {
  ua::Queue<int> q;
  try {
    co_await ua::wait_for_ms(q.get(), 500);
  } catch (const ua::TimeoutError&) {
    say(at("get timed out"));
  }
  q.put_nowait(1);  // no getter is left to take it: it stays queued
  say("qsize " + std::to_string(q.qsize()));
  say(at("got " + std::to_string(co_await ua::wait_for_ms(q.get(), 500))));
  ua::create_task(put_after_ms(q, 200, 2));
  say(at("got " + std::to_string(co_await ua::wait_for_ms(q.get(), 500))));
  // put and join, bounded queue: the put waits for room, join for task_done.
  ua::Queue<int> small(1);
  small.put_nowait(10);
  try {
    co_await ua::wait_for_ms(small.put(11), 50);
  } catch (const ua::TimeoutError&) {
    say(at("put timed out, qsize " + std::to_string(small.qsize())));
  }
  small.get_nowait();
  try {
    co_await ua::wait_for_ms(small.join(), 50);
  } catch (const ua::TimeoutError&) {
    say(at("join timed out"));
  }
  small.task_done();
  co_await ua::wait_for_ms(small.join(), 50);
  say(at("joined"));
}

}  // namespace

TEST_F(Idioms, WaitForAQueueGetPutAndJoin) {
  ua::run(wait_for_queue_get());
  EXPECT_EQ(lines_, (Lines{"get timed out @500", "qsize 1", "got 1 @500", "got 2 @700",
                           "put timed out, qsize 1 @750", "join timed out @800", "joined @800"}));
}

namespace {

// ---- wait_for(lock.acquire(), 0.2) ----

ua::Coro<void> hold_lock_ms(ua::Lock& lock, std::int64_t ms) {
  co_await lock.acquire();
  co_await ua::sleep_ms(ms);
  lock.release();
}

ua::Coro<void> wait_for_lock() {
  ua::Lock lock;
  ua::Task<void> holder = ua::create_task(hold_lock_ms(lock, 300));
  co_await ua::sleep(0);
  try {
    co_await ua::wait_for(lock.acquire(), 0.2);
    say("acquired?");
  } catch (const ua::TimeoutError&) {
    say(at("acquire timed out"));
  }
  co_await holder;
  say(at(lock.locked() ? "locked" : "free"));  // the timed-out waiter left no claim behind
  const bool got = co_await ua::wait_for(lock.acquire(), 0.2);
  say(at(got && lock.locked() ? "acquired" : "?"));
  lock.release();
  // `async with` through wait_for: the guard comes back as the result.
  {
    ua::Lock::Guard guard = co_await ua::wait_for(lock.scoped(), 0.2);
    say(lock.locked() ? "guarded" : "?");
  }
  say(lock.locked() ? "?" : "released by the guard");
}

// §6.9 through wait_for: the lock is handed to the waiter, whose timeout fires before it runs;
// the hand-off passes on to the next waiter instead of being lost.
ua::Coro<void> acquire_and_log(ua::Lock& lock, std::string name) {
  co_await lock.acquire();
  say(at(name + " acquired"));
  lock.release();
}

ua::Coro<void> acquire_within_100ms(ua::Lock& lock) {
  try {
    co_await ua::wait_for_ms(lock.acquire(), 100);
    say("first acquired?");
  } catch (const ua::TimeoutError&) {
    say(at("first timed out"));
  }
}

ua::Coro<void> hand_off_to_a_timed_out_waiter() {
  ua::Lock lock;
  co_await lock.acquire();
  ua::Task<void> first = ua::create_task(acquire_within_100ms(lock));
  co_await ua::sleep(0);
  ua::Task<void> second = ua::create_task(acquire_and_log(lock, "second"));
  co_await ua::sleep(0);
  ua::get_event_loop().advance_clock(100);  // the step "blocks" until the first one's timeout
  lock.release();                           // handed to the first waiter, not yet running
  co_await first;
  co_await second;
  say(lock.locked() ? "?" : "free");
}

}  // namespace

TEST_F(Idioms, WaitForALockAcquire) {
  ua::run(wait_for_lock());
  EXPECT_EQ(lines_, (Lines{"acquire timed out @200", "free @300", "acquired @300", "guarded",
                           "released by the guard"}));
}

TEST_F(Idioms, ATimedOutLockWaiterPassesTheHandOffOn) {
  ua::run(hand_off_to_a_timed_out_waiter());
  EXPECT_EQ(lines_, (Lines{"second acquired @100", "first timed out @100", "free"}));
}

namespace {

// ---- wait_for(flag.wait(), 1) ----

ua::Coro<void> set_flag_after_ms(ua::ThreadSafeFlag& flag, std::int64_t ms) {
  co_await ua::sleep_ms(ms);
  flag.set();
}

ua::Coro<void> wait_for_flag() {
  ua::ThreadSafeFlag flag;
  try {
    co_await ua::wait_for(flag.wait(), 1);
  } catch (const ua::TimeoutError&) {
    say(at("timeout"));
  }
  ua::create_task(set_flag_after_ms(flag, 50));
  co_await ua::wait_for(flag.wait(), 1);  // the timed-out waiter is gone: a new one may wait
  say(at("flag"));
}

}  // namespace

TEST_F(Idioms, WaitForAThreadSafeFlagWait) {
  ua::run(wait_for_flag());
  EXPECT_EQ(lines_, (Lines{"timeout @1000", "flag @1050"}));
}

namespace {

// ---- wait_for(aw, None) ----

ua::Coro<void> wait_for_none() {
  say(at(std::to_string(co_await ua::wait_for(value_after_ms(5000, 1), ua::None{}))));
  say(at(std::to_string(co_await ua::wait_for(value_after_ms(5000, 2), std::nullopt))));
  say(at(std::to_string(co_await ua::wait_for_ms(value_after_ms(5000, 3), ua::None{}))));
  const std::optional<double> none;
  say(at(std::to_string(co_await ua::wait_for(value_after_ms(100, 4), none))));
  const std::optional<double> some = 0.05;
  try {
    co_await ua::wait_for(value_after_ms(100, 5), some);
  } catch (const ua::TimeoutError&) {
    say(at("timeout"));
  }
  ua::Event ev;
  ua::create_task(set_after_ms(ev, 10));
  say(at(co_await ua::wait_for(ev.wait(), ua::None{}) ? "set" : "?"));
}

}  // namespace

TEST_F(Idioms, WaitForNoneJustAwaits) {
  ua::run(wait_for_none());
  EXPECT_EQ(lines_,
            (Lines{"1 @5000", "2 @10000", "3 @15000", "4 @15100", "timeout @15150", "set @15160"}));
}

namespace {

// ---- gather(ev.wait(), task, coro()) ----

ua::Coro<void> gather_a_mix() {
  ua::Event ev;
  ua::Queue<std::string> q;
  ua::Lock lock;
  ua::Task<int> task = ua::create_task(value_after_ms(20, 2));
  ua::create_task(set_after_ms(ev, 30));
  q.put_nowait("item");
  auto [set, two, three, item, acquired] =
      co_await ua::gather(ev.wait(), task, value_after_ms(10, 3), q.get(), lock.acquire());
  say(at(std::string(set ? "set" : "?") + " " + std::to_string(two) + " " + std::to_string(three) +
         " " + item + " " + (acquired && lock.locked() ? "locked" : "?")));
}

}  // namespace

TEST_F(Idioms, GatherAMixOfAwaiterTaskAndCoroutine) {
  ua::run(gather_a_mix());
  EXPECT_EQ(lines_, (Lines{"set 2 3 item locked @30"}));
}

namespace {

// ---- a runtime list mixing tasks, coroutines and awaiters; gather(vec, more...) ----

ua::Coro<void> gather_a_runtime_list() {
  ua::Queue<int> q;
  std::vector<ua::Awaitable<int>> aws;
  aws.push_back(ua::create_task(value_after_ms(30, 1)));
  aws.push_back(value_after_ms(10, 2));
  aws.push_back(q.get());
  ua::create_task(put_after_ms(q, 20, 3));
  std::vector<int> all = co_await ua::gather(std::move(aws), value_after_ms(5, 4),
                                             ua::create_task(value_after_ms(1, 5)));
  std::string s;
  for (int v : all)
    s += (s.empty() ? "" : " ") + std::to_string(v);
  say(at(s));

  // A vector of tasks followed by one more coroutine; the return_exceptions form.
  std::vector<ua::Task<int>> tasks;
  tasks.push_back(ua::create_task(value_after_ms(1, 6)));
  std::vector<int> more = co_await ua::gather(std::move(tasks), value_after_ms(1, 7));
  say(std::to_string(more.at(0)) + " " + std::to_string(more.at(1)));
}

ua::Coro<void> put_soon(ua::Queue<int>& q, int v) {
  co_await ua::sleep_ms(1);
  q.put_nowait(v);
}

ua::Coro<void> gather_outcomes() {
  ua::Queue<int> q;
  ua::create_task(put_soon(q, 10));
  std::vector<ua::Awaitable<int>> two;
  two.push_back(value_after_ms(1, 8));
  two.push_back(ua::wait_for_ms(value_after_ms(100, 9), 10));
  auto outcomes = co_await ua::gather(ua::return_exceptions, std::move(two), q.get());
  say(at(std::to_string(outcomes.at(0).value()) + " " +
         (outcomes.at(1).holds<ua::TimeoutError>() ? "TimeoutError" : "?") + " " +
         std::to_string(outcomes.at(2).value())));
}

// A list of Awaitable<void> takes any awaitable, whatever its value (it is dropped).
ua::Coro<void> gather_void_awaitables() {
  ua::Event ev;
  ua::Lock lock;
  ua::create_task(set_after_ms(ev, 5));
  std::vector<ua::Awaitable<void>> aws;
  aws.push_back(ev.wait());       // bool
  aws.push_back(lock.acquire());  // bool
  aws.push_back(sleep_for(3));
  auto nones = co_await ua::gather(std::move(aws));
  say(at(std::to_string(nones.size()) + (lock.locked() ? " locked" : " ?")));
}

// An Awaitable is awaitable itself: a coroutine inline (§7.4), a task as a task.
ua::Coro<void> await_an_awaitable() {
  ua::Awaitable<int> coro = value_after_ms(1, 1);
  ua::Awaitable<int> task = ua::create_task(value_after_ms(1, 2));
  ua::Queue<int> q;
  q.put_nowait(3);
  ua::Awaitable<int> get = q.get();
  const int a = co_await coro;
  const int b = co_await task;
  const int c = co_await get;
  say(at(std::to_string(a + b + c)));
}

}  // namespace

TEST_F(Idioms, GatherARuntimeListAndMore) {
  ua::run(gather_a_runtime_list());
  EXPECT_EQ(lines_, (Lines{"1 2 3 4 5 @30", "6 7"}));
}

TEST_F(Idioms, GatherReturnExceptionsOverAListAndMore) {
  ua::run(gather_outcomes());
  EXPECT_EQ(lines_, (Lines{"8 TimeoutError 10 @10"}));
}

TEST_F(Idioms, AListOfVoidAwaitablesTakesAnyAwaitable) {
  ua::run(gather_void_awaitables());
  EXPECT_EQ(lines_, (Lines{"3 locked @5"}));
}

TEST_F(Idioms, AnAwaitableIsAwaitable) {
  ua::run(await_an_awaitable());
  EXPECT_EQ(lines_, (Lines{"6 @1"}));
}

namespace {

// ---- loop.advance_clock(ms): a step that blocks the loop ----

ua::Coro<void> sleeper(std::int64_t ms, std::string name) {
  co_await ua::sleep_ms(ms);
  say(at(name));
}

ua::Coro<void> note(std::string name) {
  say(at(name));
  co_return;
}

ua::Coro<void> block_the_loop() {
  ua::create_task(sleeper(10, "sleeper"));
  co_await ua::sleep(0);
  ua::get_event_loop().advance_clock(30);  // as if this step ran for 30 ms
  say(at("blocked"));
  ua::create_task(note("created after"));
  co_await ua::sleep(0);
  say(at("main"));
}

}  // namespace

// §4.2: the sleeper's deadline passed while the loop was blocked, so it runs before a task
// created later.
TEST_F(Idioms, AdvanceClockModelsAStepThatBlocksTheLoop) {
  ua::run(block_the_loop());
  EXPECT_EQ(lines_, (Lines{"blocked @30", "sleeper @30", "created after @30", "main @30"}));
}

TEST_F(Idioms, AdvanceClockNeedsTheVirtualClock) {
  ua::get_event_loop().set_virtual_clock(false);
  EXPECT_THROW(ua::get_event_loop().advance_clock(1), ua::RuntimeError);
}

namespace {

// ---- wait_for(proc.wait(), 10), on the real clock ----

ua::Coro<void> wait_for_a_process() {
  std::vector<std::string> quick{"sh", "-c", "exit 3"};
  ua::Process p = co_await ua::create_subprocess_exec(quick);
  say("rc " + std::to_string(co_await ua::wait_for(p.wait(), 10)));
  std::vector<std::string> slow{"sleep", "10"};
  ua::Process q = co_await ua::create_subprocess_exec(slow);
  try {
    co_await ua::wait_for_ms(q.wait(), 20);
  } catch (const ua::TimeoutError&) {
    say(q.returncode() ? "?" : "timeout, still running");
  }
  q.kill();
  say("rc " + std::to_string(co_await ua::wait_for(q.wait(), 10)));
}

}  // namespace

TEST_F(Idioms, WaitForAProcessWait) {
  ua::get_event_loop().set_virtual_clock(false);
  ua::run(wait_for_a_process());
  EXPECT_EQ(lines_, (Lines{"rc 3", "timeout, still running", "rc -9"}));
}

namespace {

// A move-only result comes through wait_for and gather.
ua::Coro<std::unique_ptr<int>> boxed(int v) {
  co_await ua::sleep_ms(1);
  co_return std::make_unique<int>(v);
}

ua::Coro<void> move_only_results() {
  std::unique_ptr<int> a = co_await ua::wait_for(boxed(1), 1);
  auto [b] = co_await ua::gather(boxed(2));
  say(std::to_string(*a + *b));
}

}  // namespace

TEST_F(Idioms, MoveOnlyResultsPassThrough) {
  ua::run(move_only_results());
  EXPECT_EQ(lines_, (Lines{"3"}));
}
