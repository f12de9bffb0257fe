// §4.9 new_event_loop() / Loop teardown: the loop owns every task it has not finished (each holds
// the scheduler's reference), so discarding them destroys every frame nobody else refers to,
// wherever the task was waiting: queued, asleep, parked on an Event, Lock, Queue, gather or
// another task, orphaned by a primitive destroyed under it, or by a task that never woke it.
#include <gtest/gtest.h>
#include <uasyncio/uasyncio.hpp>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "loop_fixture.hpp"

namespace ua = uasyncio;

namespace {

// Counts the frames alive: one lives in each coroutine below, destroyed with its frame.
struct Alive {
  explicit Alive(int& n) : n(n) { ++n; }
  Alive(const Alive&) = delete;
  Alive& operator=(const Alive&) = delete;
  ~Alive() { --n; }
  int& n;
};

ua::Coro<void> waits_for_event(ua::Event& ev, int& alive) {
  Alive a(alive);
  co_await ev.wait();
}

ua::Coro<void> waits_for_lock(ua::Lock& lock, int& alive) {
  Alive a(alive);
  co_await lock.acquire();
  lock.release();
}

ua::Coro<void> holds_lock(ua::Lock& lock) {
  co_await lock.acquire();
}

ua::Coro<int> waits_for_item(ua::Queue<int>& q, int& alive) {
  Alive a(alive);
  co_return co_await q.get();
}

ua::Coro<void> awaits_task(ua::Task<void> t, int& alive) {
  Alive a(alive);
  co_await t;
}

ua::Coro<void> gathers(ua::Event& ev, int& alive) {
  Alive a(alive);
  co_await ua::gather(waits_for_event(ev, alive), waits_for_event(ev, alive));
}

ua::Coro<void> sleeps(int& alive) {
  Alive a(alive);
  co_await ua::sleep(3600);
}

ua::Coro<void> yield_once() {
  co_await ua::sleep(0);
}

class LoopReset : public LoopTest {
 protected:
  // Lets every task created so far run up to its wait.
  static void settle() { ua::run(yield_once()); }
  int alive_ = 0;
};

}  // namespace

TEST_F(LoopReset, DestroysQueuedAndSleepingTasks) {
  ua::create_task(sleeps(alive_));
  settle();
  ua::create_task(sleeps(alive_));  // queued, never started
  EXPECT_EQ(alive_, 1);             // an unstarted frame has not constructed its locals yet
  ua::new_event_loop();
  EXPECT_EQ(alive_, 0);
}

TEST_F(LoopReset, DestroysATaskParkedOnAnEvent) {
  ua::Event ev;
  ua::create_task(waits_for_event(ev, alive_));
  settle();
  EXPECT_EQ(alive_, 1);
  ua::new_event_loop();
  EXPECT_EQ(alive_, 0);
}

TEST_F(LoopReset, DestroysTasksParkedOnALockAQueueAndAnotherTask) {
  ua::Lock lock;
  ua::Queue<int> q;
  ua::Event ev;
  ua::create_task(holds_lock(lock));
  ua::create_task(waits_for_lock(lock, alive_));
  ua::create_task(waits_for_item(q, alive_));
  ua::Task<void> inner = ua::create_task(waits_for_event(ev, alive_));
  ua::create_task(awaits_task(inner, alive_));
  settle();
  EXPECT_EQ(alive_, 4);
  inner = ua::Task<void>();
  ua::new_event_loop();
  EXPECT_EQ(alive_, 0);
}

TEST_F(LoopReset, DestroysAGatherAndItsChildren) {
  ua::Event ev;
  ua::create_task(gathers(ev, alive_));
  settle();
  EXPECT_EQ(alive_, 3);
  ua::new_event_loop();
  EXPECT_EQ(alive_, 0);
}

// The Event goes away while a task waits on it (it was a local of a coroutine that ended): the
// waiter is linked to nothing, yet the loop still owns it.
TEST_F(LoopReset, DestroysATaskWhoseEventWasDestroyed) {
  {
    auto ev = std::make_unique<ua::Event>();
    ua::create_task(waits_for_event(*ev, alive_));
    settle();
  }
  EXPECT_EQ(alive_, 1);
  ua::new_event_loop();
  EXPECT_EQ(alive_, 0);
}

// §4.5a: a main task that raises does not wake the tasks awaiting it; they are lost to every
// queue, and still the loop's to destroy.
ua::Coro<void> raises_after_yield() {
  co_await ua::sleep(0);
  throw std::runtime_error("main failed");
}

TEST_F(LoopReset, DestroysTheWaitersOfAMainTaskThatRaised) {
  ua::Loop& loop = ua::get_event_loop();
  {
    ua::Task<void> main = loop.create_task(raises_after_yield());
    loop.create_task(awaits_task(main, alive_));
    EXPECT_THROW(loop.run_until_complete(main), std::runtime_error);
  }
  EXPECT_EQ(alive_, 1);
  ua::new_event_loop();
  EXPECT_EQ(alive_, 0);
}

// A handle that outlives the reset keeps its frame (never to run again); the frame goes with the
// handle.
TEST_F(LoopReset, AHandleKeepsItsFrameUntilItGoes) {
  ua::Event ev;
  std::optional<ua::Task<void>> t = ua::create_task(waits_for_event(ev, alive_));
  settle();
  ua::new_event_loop();
  EXPECT_EQ(alive_, 1);
  EXPECT_FALSE(t->done());
  ev.set();  // it was unlinked: nothing is woken
  settle();
  EXPECT_FALSE(t->done());
  t.reset();
  EXPECT_EQ(alive_, 0);
}
