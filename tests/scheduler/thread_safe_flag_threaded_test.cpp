// ThreadSafeFlag (§13), including MicroPython's tests/extmod/asyncio_threadsafeflag.py, and
// set() from other threads (this program also runs under ThreadSanitizer).
#include <uasyncio/uasyncio.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "loop_fixture.hpp"

namespace ua = uasyncio;

namespace {

using Lines = std::vector<std::string>;

ua::Coro<void> wait_flag(ua::ThreadSafeFlag& flag) {
  co_await flag.wait();
}

ua::Coro<void> logged_task(int id, ua::ThreadSafeFlag& flag, Lines& out) {
  out.push_back("task " + std::to_string(id));
  co_await flag.wait();
  out.push_back("task " + std::to_string(id) + " done");
}

ua::Coro<void> micropython_threadsafeflag_main(Lines& out) {
  ua::ThreadSafeFlag flag;

  ua::Task<void> t = ua::create_task(logged_task(1, flag, out));
  out.push_back("yield");
  co_await ua::sleep(0);
  out.push_back("set event");
  flag.set();
  out.push_back("yield");
  co_await ua::sleep(0);
  out.push_back("wait task");
  co_await t;

  // MicroPython sets it from micropython.schedule; here another thread does.
  out.push_back("----");
  t = ua::create_task(logged_task(2, flag, out));
  out.push_back("yield");
  co_await ua::sleep(0);
  out.push_back("set event");
  std::thread([&flag] { flag.set(); }).join();
  out.push_back("yield");
  co_await ua::sleep(0);
  out.push_back("wait task");
  co_await t;

  out.push_back("----");
  out.push_back("set event");
  flag.set();
  t = ua::create_task(logged_task(3, flag, out));
  out.push_back("yield");
  co_await ua::sleep(0);
  out.push_back("wait task");
  co_await t;

  out.push_back("----");
  out.push_back("set event");
  flag.set();
  out.push_back("yield");
  co_await ua::sleep(0);
  out.push_back("clear event");
  flag.clear();
  out.push_back("yield");
  co_await ua::sleep(0);
  t = ua::create_task(logged_task(4, flag, out));
  out.push_back("yield");
  co_await ua::sleep(0);
  out.push_back("set event");
  flag.set();
  out.push_back("yield");
  co_await ua::sleep(0);
  out.push_back("wait task");
  co_await t;
}

ua::Coro<void> log_line(std::string line, Lines& out) {
  out.push_back(std::move(line));
  co_return;
}

ua::Coro<void> wait_when_set(Lines& out) {
  ua::ThreadSafeFlag flag;
  flag.set();
  ua::create_task(log_line("other task", out));
  co_await flag.wait();
  out.push_back("returned");
  // The flag was cleared: a second wait blocks.
  try {
    co_await ua::wait_for_ms(wait_flag(flag), 50);
    out.push_back("second wait returned");
  } catch (const ua::TimeoutError&) {
    out.push_back("second wait timed out");
  }
}

ua::Coro<void> clear_before_poll(Lines& out) {
  ua::ThreadSafeFlag flag;
  ua::Task<void> t = ua::create_task(wait_flag(flag));
  co_await ua::sleep(0);
  flag.set();
  flag.clear();
  co_await ua::sleep_ms(10);
  out.push_back(t.done() ? "woken by a cleared set" : "still waiting");
  flag.set();
  co_await t;
  out.push_back("woken");
}

ua::Coro<void> second_waiter(Lines& out) {
  ua::ThreadSafeFlag flag;
  ua::Task<void> first = ua::create_task(wait_flag(flag));
  co_await ua::sleep(0);
  try {
    co_await flag.wait();
    out.push_back("second wait returned");
  } catch (const ua::RuntimeError&) {
    out.push_back("RuntimeError");
  }
  flag.set();
  co_await first;
  out.push_back("first woken");
}

ua::Coro<void> wait_event(ua::Event& ev) {
  co_await ev.wait();
}

// A cancelled waiter must stop keeping the loop alive: waiting on an event nobody sets is then
// a deadlock the loop reports.
ua::Coro<void> cancel_waiter_then_block(ua::ThreadSafeFlag& flag, ua::Event& never, Lines& out) {
  ua::Task<void> t = ua::create_task(wait_flag(flag));
  co_await ua::sleep(0);
  t.cancel();
  try {
    co_await t;
  } catch (const ua::CancelledError&) {
    out.push_back("waiter cancelled");
  }
  co_await wait_event(never);
}

ua::Coro<void> woken_then_cancelled(Lines& out) {
  ua::ThreadSafeFlag flag;
  ua::Task<void> t = ua::create_task(wait_flag(flag));
  co_await ua::sleep(0);
  flag.set();
  // Runs until the loop's periodic I/O poll delivers the set() and queues the waiter, then
  // cancels it before it gets to run.
  int turns = 0;
  while (t.header()->waiting_on != nullptr && turns < 10'000) {
    co_await ua::sleep(0);
    ++turns;
  }
  out.push_back(t.header()->waiting_on == nullptr ? "waiter queued" : "waiter never queued");
  t.cancel();
  try {
    co_await t;
  } catch (const ua::CancelledError&) {
    out.push_back("waiter cancelled");
  }
  // The set() it did not get to consume is still there.
  try {
    co_await ua::wait_for_ms(wait_flag(flag), 50);
    out.push_back("flag still set");
  } catch (const ua::TimeoutError&) {
    out.push_back("set lost");
  }
}

ua::Coro<void> set_by_thread_after(std::chrono::milliseconds delay, Lines& out) {
  ua::ThreadSafeFlag flag;
  std::thread setter([&flag, delay] {
    std::this_thread::sleep_for(delay);
    flag.set();
  });
  co_await flag.wait();
  out.push_back("woken");
  setter.join();
}

// The other side of the ping-pong: the loop acknowledges each wake-up here.
struct Acks {
  std::mutex mutex;
  std::condition_variable cv;
  long acked = 0;
  bool stop = false;

  void ack(long n) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      acked = n;
    }
    cv.notify_one();
  }
  void halt() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    cv.notify_one();
  }
};

ua::Coro<void> loop_side(ua::ThreadSafeFlag& flag, Acks& acks, long rounds, long* count) {
  for (long i = 1; i <= rounds; ++i) {
    co_await flag.wait();
    ++*count;
    acks.ack(i);
  }
}

// Each round the thread sets the flag and waits for the loop's acknowledgement; a lost wake-up
// shows as a round the thread gives up on (after re-sending) or as the watchdog firing.
ua::Coro<void> ping_pong(long rounds, long* count, long* stalls, bool* timed_out) {
  ua::ThreadSafeFlag flag;
  Acks acks;
  std::thread other([&flag, &acks, rounds, stalls] {
    std::unique_lock<std::mutex> lock(acks.mutex);
    for (long i = 1; i <= rounds && !acks.stop; ++i) {
      flag.set();
      while (acks.acked < i && !acks.stop) {
        if (!acks.cv.wait_for(lock, std::chrono::seconds(5),
                              [&] { return acks.acked >= i || acks.stop; })) {
          ++*stalls;
          flag.set();
        }
      }
    }
  });
  try {
    co_await ua::wait_for(loop_side(flag, acks, rounds, count), 120.0);
  } catch (const ua::TimeoutError&) {
    *timed_out = true;
  }
  acks.halt();
  other.join();
}

ua::Coro<void> drain_until_done(ua::ThreadSafeFlag& flag, std::atomic<int>& finished, int threads,
                                long* wakes) {
  for (;;) {
    co_await flag.wait();
    ++*wakes;
    if (finished.load() == threads) co_return;
  }
}

ua::Coro<void> flood(int threads, long sets_each, long* wakes, bool* timed_out) {
  ua::ThreadSafeFlag flag;
  std::atomic<int> finished{0};
  std::vector<std::thread> setters;
  for (int t = 0; t < threads; ++t) {
    setters.emplace_back([&flag, &finished, sets_each] {
      for (long i = 0; i < sets_each; ++i)
        flag.set();
      finished.fetch_add(1);
      flag.set();  // sure to be seen after `finished` counts this thread
    });
  }
  try {
    co_await ua::wait_for(drain_until_done(flag, finished, threads, wakes), 120.0);
  } catch (const ua::TimeoutError&) {
    *timed_out = true;
  }
  for (std::thread& t : setters)
    t.join();
}

}  // namespace

// A lost wake-up hangs rather than fails: a watchdog turns a hung test into a crash.
class ThreadSafeFlag : public LoopTest {
 protected:
  void SetUp() override {
    LoopTest::SetUp();
    watchdog_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mutex_);
      if (!cv_.wait_for(lock, std::chrono::minutes(3), [this] { return finished_; })) {
        std::fprintf(stderr, "watchdog: the test hangs (a lost wake-up?)\n");
        std::abort();
      }
    });
  }
  void TearDown() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      finished_ = true;
    }
    cv_.notify_one();
    watchdog_.join();
    LoopTest::TearDown();
  }

 private:
  std::thread watchdog_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool finished_ = false;
};

TEST_F(ThreadSafeFlag, MicroPythonAsyncioThreadSafeFlag) {
  ua::run(micropython_threadsafeflag_main(lines_));
  EXPECT_EQ(lines_, (Lines{"yield",       "task 1",    "set event",   "yield",     "wait task",
                           "task 1 done", "----",      "yield",       "task 2",    "set event",
                           "yield",       "wait task", "task 2 done", "----",      "set event",
                           "yield",       "task 3",    "task 3 done", "wait task", "----",
                           "set event",   "yield",     "clear event", "yield",     "yield",
                           "task 4",      "set event", "yield",       "wait task", "task 4 done"}));
}

TEST_F(ThreadSafeFlag, WaitWhenSetClearsTheFlagAndDoesNotYield) {
  ua::run(wait_when_set(lines_));
  EXPECT_EQ(lines_, (Lines{"returned", "other task", "second wait timed out"}));
}

TEST_F(ThreadSafeFlag, SetUndoneByClearBeforeTheLoopPollsWakesNobody) {
  ua::run(clear_before_poll(lines_));
  EXPECT_EQ(lines_, (Lines{"still waiting", "woken"}));
}

TEST_F(ThreadSafeFlag, ASecondConcurrentWaiterRaisesRuntimeError) {
  ua::run(second_waiter(lines_));
  EXPECT_EQ(lines_, (Lines{"RuntimeError", "first woken"}));
}

TEST_F(ThreadSafeFlag, AnIdleFlagDoesNotHideADeadlock) {
  ua::ThreadSafeFlag flag;
  ua::Event never;
  ua::Loop& loop = ua::get_event_loop();
  ua::Task<void> main = loop.create_task(wait_event(never));
  EXPECT_THROW(loop.run_until_complete(main), ua::RuntimeError);
  main.cancel();
  EXPECT_THROW(loop.run_until_complete(main), ua::CancelledError);
}

TEST_F(ThreadSafeFlag, ACancelledWaiterNoLongerKeepsTheLoopAlive) {
  ua::ThreadSafeFlag flag;
  ua::Event never;
  ua::Loop& loop = ua::get_event_loop();
  ua::Task<void> main = loop.create_task(cancel_waiter_then_block(flag, never, lines_));
  EXPECT_THROW(loop.run_until_complete(main), ua::RuntimeError);
  EXPECT_EQ(lines_, (Lines{"waiter cancelled"}));
  main.cancel();
  EXPECT_THROW(loop.run_until_complete(main), ua::CancelledError);
}

TEST_F(ThreadSafeFlag, AWaiterWokenThenCancelledLeavesTheFlagSet) {
  ua::run(woken_then_cancelled(lines_));
  EXPECT_EQ(lines_, (Lines{"waiter queued", "waiter cancelled", "flag still set"}));
}

TEST_F(ThreadSafeFlag, SetFromAnotherThreadWakesTheBlockedLoop) {
  ua::get_event_loop().set_virtual_clock(false);
  const auto start = std::chrono::steady_clock::now();
  ua::run(set_by_thread_after(std::chrono::milliseconds(30), lines_));
  EXPECT_EQ(lines_, (Lines{"woken"}));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(30));
}

TEST_F(ThreadSafeFlag, PingPongWithAThread100000TimesLosesNoWakeUp) {
  ua::get_event_loop().set_virtual_clock(false);
  long count = 0;
  long stalls = 0;
  bool timed_out = false;
  ua::run(ping_pong(100'000, &count, &stalls, &timed_out));
  EXPECT_FALSE(timed_out);
  EXPECT_EQ(stalls, 0);
  EXPECT_EQ(count, 100'000);
}

TEST_F(ThreadSafeFlag, SetsFromSeveralThreadsAtOnceNeverLoseTheLastOne) {
  ua::get_event_loop().set_virtual_clock(false);
  long wakes = 0;
  bool timed_out = false;
  ua::run(flood(4, 25'000, &wakes, &timed_out));
  EXPECT_FALSE(timed_out);
  EXPECT_GE(wakes, 1);
  EXPECT_LE(wakes, 4 * 25'000 + 4);
}

// §4.3, §13.2: a set() from another thread wakes the waiter at the loop's next poll, which
// MicroPython makes before every step; the library used to look only every 1024 steps, so a
// busy loop woke the waiter long after. The spinner sees the thread's `done` only after the
// set() (it is stored after it), so the waiter is queued at the latest by the poll after the
// spinner's step that saw it: before the spinner's second step after that.
namespace {

ua::Coro<void> wait_then_log(ua::ThreadSafeFlag& flag, Lines& out) {
  co_await flag.wait();
  out.push_back("W woken");
}

ua::Coro<void> spin_until(const std::atomic<bool>& done, Lines& out) {
  while (!done.load(std::memory_order_acquire))
    co_await ua::sleep(0);
  out.push_back("B saw set");
  for (int i = 0; i < 3; ++i) {
    co_await ua::sleep(0);
    out.push_back("B" + std::to_string(i));
  }
}

ua::Coro<void> set_from_a_thread_while_busy(Lines& out) {
  ua::ThreadSafeFlag flag;
  std::atomic<bool> done{false};
  ua::Task<void> w = ua::create_task(wait_then_log(flag, out));
  co_await ua::sleep(0);  // W waits on the flag
  ua::Task<void> b = ua::create_task(spin_until(done, out));
  std::thread setter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    flag.set();
    done.store(true, std::memory_order_release);
  });
  co_await b;
  co_await w;
  setter.join();
}

}  // namespace

TEST_F(ThreadSafeFlag, ASetFromAnotherThreadWakesTheWaiterAtTheNextPoll) {
  Lines out;
  ua::get_event_loop().set_virtual_clock(false);
  ua::run(set_from_a_thread_while_busy(out));
  auto at = [&](const std::string& line) {
    return std::find(out.begin(), out.end(), line) - out.begin();
  };
  ASSERT_EQ(out.size(), 5u);
  EXPECT_LT(at("W woken"), at("B1")) << ::testing::PrintToString(out);
}

// A set() from a libuv callback on the loop's thread (a handle of the user's own, while the loop
// is blocked in its poll) still wakes the waiter: outside any task, set() pokes the loop.
namespace {

ua::Coro<void> wait_for_a_callback_set(ua::ThreadSafeFlag& flag) {
  uv_timer_t timer{};
  uv_timer_init(ua::get_event_loop().uv_loop(), &timer);
  timer.data = &flag;
  uv_timer_start(
      &timer, [](uv_timer_t* t) { static_cast<ua::ThreadSafeFlag*>(t->data)->set(); }, 10, 0);
  co_await flag.wait();
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
  co_await ua::sleep_ms(1);  // the close callback runs before the frame (and the timer) goes
}

}  // namespace

TEST_F(ThreadSafeFlag, ASetFromALibuvCallbackOnTheLoopThreadWakesTheWaiter) {
  ua::get_event_loop().set_virtual_clock(false);
  ua::ThreadSafeFlag flag;
  ua::run(wait_for_a_callback_set(flag));
}
