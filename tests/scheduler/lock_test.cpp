// Lock (§12) and its scoped guard, including MicroPython's tests/extmod/asyncio_lock.py and
// asyncio_lock_cancel.py.
#include <uasyncio/uasyncio.hpp>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "allocation_counter.hpp"
#include "loop_fixture.hpp"

namespace ua = uasyncio;

namespace {

using Lines = std::vector<std::string>;

std::string py_bool(bool b) {
  return b ? "True" : "False";
}

// ---- asyncio_lock.py ----

ua::Coro<void> task_loop(int id, ua::Lock& lock, Lines& out) {
  out.push_back("task start " + std::to_string(id));
  for (int i = 0; i < 3; ++i) {
    auto guard = co_await lock.scoped();
    out.push_back("task have " + std::to_string(id) + " " + std::to_string(i));
  }
  out.push_back("task end " + std::to_string(id));
}

ua::Coro<void> task_sleep(ua::Lock& lock, Lines& out) {
  {
    auto guard = co_await lock.scoped();
    out.push_back("task have " + py_bool(lock.locked()));
    co_await ua::sleep(0.2);
  }
  out.push_back("task release " + py_bool(lock.locked()));
  co_await lock.acquire();
  out.push_back("task have again");
  lock.release();
}

ua::Coro<void> task_cancel(int id, ua::Lock& lock, Lines& out, ua::Task<void>* to_cancel) {
  try {
    {
      auto guard = co_await lock.scoped();
      out.push_back("task got " + std::to_string(id));
      co_await ua::sleep(0.1);
    }
    out.push_back("task release " + std::to_string(id));
    if (to_cancel != nullptr) to_cancel->cancel();
  } catch (const ua::CancelledError&) {
    out.push_back("task cancel " + std::to_string(id));
  }
}

ua::Coro<void> micropython_lock_main(Lines& out) {
  ua::Lock lock;
  out.push_back(py_bool(lock.locked()));
  co_await lock.acquire();
  out.push_back(py_bool(lock.locked()));
  co_await ua::sleep(0);
  lock.release();
  out.push_back(py_bool(lock.locked()));
  co_await ua::sleep(0);

  {
    auto guard = co_await lock.scoped();
    out.push_back("have lock");
  }

  out.push_back("----");
  ua::create_task(task_loop(1, lock, out));
  ua::create_task(task_loop(2, lock, out));
  ua::Task<void> t3 = ua::create_task(task_loop(3, lock, out));
  co_await lock.acquire();
  co_await ua::sleep(0);
  lock.release();
  co_await t3;

  out.push_back("----");
  ua::create_task(task_sleep(lock, out));
  co_await ua::sleep(0.1);
  co_await task_sleep(lock, out);

  out.push_back("----");
  ua::Task<void> to_cancel;
  ua::create_task(task_cancel(0, lock, out, &to_cancel));
  to_cancel = ua::create_task(task_cancel(1, lock, out, nullptr));
  ua::create_task(task_cancel(2, lock, out, nullptr));
  co_await ua::sleep(0.3);
  out.push_back(py_bool(lock.locked()));

  out.push_back("----");
  ua::create_task(task_cancel(0, lock, out, nullptr));
  ua::Task<void> t1 = ua::create_task(task_cancel(1, lock, out, nullptr));
  ua::Task<void> t2 = ua::create_task(task_cancel(2, lock, out, nullptr));
  co_await ua::sleep(0.05);
  t1.cancel();
  co_await ua::sleep(0.1);
  t2.cancel();
  co_await ua::sleep(0.1);
  out.push_back(py_bool(lock.locked()));
}

// ---- asyncio_lock_cancel.py ----

ua::Coro<void> flag_task(int i, ua::Lock& lock, bool& lock_flag, Lines& out) {
  const std::string name = "task " + std::to_string(i);
  out.push_back(name + " start");
  bool cancelled = false;
  try {
    co_await lock.acquire();
  } catch (const ua::CancelledError&) {
    cancelled = true;
  }
  if (cancelled) {
    out.push_back(name + " cancel");
    co_return;
  }
  out.push_back(name + " lock_flag " + py_bool(lock_flag));
  lock_flag = true;
  co_await ua::sleep(0);
  lock.release();
  lock_flag = false;
  out.push_back(name + " done");
}

ua::Coro<void> micropython_lock_cancel_main(Lines& out) {
  ua::Lock lock;
  co_await lock.acquire();
  bool lock_flag = true;
  ua::create_task(flag_task(0, lock, lock_flag, out));
  ua::Task<void> t1 = ua::create_task(flag_task(1, lock, lock_flag, out));
  ua::Task<void> t2 = ua::create_task(flag_task(2, lock, lock_flag, out));
  ua::create_task(flag_task(3, lock, lock_flag, out));
  co_await ua::sleep(0);
  t1.cancel();
  t2.cancel();
  lock.release();
  lock_flag = false;
  for (int i = 0; i < 4; ++i)
    co_await ua::sleep(0);
  out.push_back(py_bool(lock.locked()));
}

// ---- our own ----

ua::Coro<void> log_line(std::string line, Lines& out) {
  out.push_back(std::move(line));
  co_return;
}

ua::Coro<void> acquire_free_lock(ua::Lock& lock, Lines& out, bool* result) {
  ua::create_task(log_line("other task", out));
  *result = co_await lock.acquire();
  out.push_back(lock.locked() ? "acquired, locked" : "acquired, not locked");
  lock.release();
  co_await ua::sleep(0);
}

ua::Coro<void> release_unlocked(ua::Lock& lock, std::string* message) {
  try {
    lock.release();
  } catch (const ua::RuntimeError& e) {
    *message = e.what();
  }
  co_return;
}

// Holds the lock for a moment, logging when it got it.
ua::Coro<void> holder(std::string name, ua::Lock& lock, Lines& out, std::int64_t delay_ms = 0) {
  if (delay_ms > 0) co_await ua::sleep_ms(delay_ms);
  try {
    co_await lock.acquire();
  } catch (const ua::CancelledError&) {
    out.push_back(name + " cancelled");
    throw;
  }
  out.push_back(name + " has");
  co_await ua::sleep(0);
  lock.release();
}

ua::Coro<void> fifo_by_wait_order(ua::Lock& lock, Lines& out) {
  co_await lock.acquire();
  for (int id = 0; id < 4; ++id) {
    std::string name = "w";  // appended: g++ 12 -O3 warns falsely on "w" + string (PR 105329)
    name += std::to_string(id);
    ua::create_task(holder(std::move(name), lock, out, 10 * (4 - id)));
  }
  co_await ua::sleep_ms(100);
  lock.release();
  co_await ua::sleep_ms(100);
}

ua::Coro<void> hand_off_window(ua::Lock& lock, Lines& out) {
  co_await lock.acquire();
  ua::create_task(holder("a", lock, out));
  co_await ua::sleep(0);
  lock.release();
  out.push_back("window locked " + py_bool(lock.locked()));
  bool second_release_raised = false;
  try {
    lock.release();
  } catch (const ua::RuntimeError&) {
    second_release_raised = true;
  }
  out.push_back("window release raised " + py_bool(second_release_raised));
  co_await lock.acquire();  // queues behind "a" although locked() was false
  out.push_back("main has");
  lock.release();
}

ua::Coro<void> cancel_queued_waiter(ua::Lock& lock, Lines& out, bool* victim_cancelled) {
  co_await lock.acquire();
  ua::create_task(holder("a", lock, out));
  ua::Task<void> b = ua::create_task(holder("b", lock, out));
  ua::create_task(holder("c", lock, out));
  co_await ua::sleep(0);
  b.cancel();
  co_await ua::sleep(0);
  lock.release();
  co_await ua::sleep_ms(10);
  *victim_cancelled = b.cancelled();
  out.push_back("locked " + py_bool(lock.locked()));
}

ua::Coro<void> cancel_after_hand_off(ua::Lock& lock, Lines& out, bool with_next_waiter) {
  co_await lock.acquire();
  ua::Task<void> a = ua::create_task(holder("a", lock, out));
  if (with_next_waiter) ua::create_task(holder("b", lock, out));
  co_await ua::sleep(0);
  lock.release();  // handed to "a", which has not run yet
  a.cancel();
  co_await ua::sleep_ms(10);
  out.push_back("locked " + py_bool(lock.locked()));
  // Whoever holds the lock now, it is free for us at once.
  co_await lock.acquire();
  out.push_back("main has");
  lock.release();
}

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

ua::Coro<void> throw_while_holding(ua::Lock& lock) {
  auto guard = co_await lock.scoped();
  throw Failure("inside");
}

ua::Coro<void> hold_forever(ua::Lock& lock, Lines& out) {
  auto guard = co_await lock.scoped();
  out.push_back("holding");
  try {
    co_await ua::sleep(1000);
  } catch (const ua::CancelledError&) {
    out.push_back("cancelled while holding");
    throw;
  }
}

ua::Coro<void> guard_cases(ua::Lock& lock, Lines& out) {
  {
    auto guard = co_await lock.scoped();
    out.push_back("scope locked " + py_bool(lock.locked()));
  }
  out.push_back("after scope " + py_bool(lock.locked()));

  try {
    co_await throw_while_holding(lock);
  } catch (const Failure&) {
    out.push_back("after exception " + py_bool(lock.locked()));
  }

  ua::Task<void> t = ua::create_task(hold_forever(lock, out));
  co_await ua::sleep(0);
  t.cancel();
  try {
    co_await t;
  } catch (const ua::CancelledError&) {
  }
  out.push_back("after cancel " + py_bool(lock.locked()));

  auto guard = co_await lock.scoped();
  guard.unlock();
  out.push_back("after unlock " + py_bool(lock.locked()));
}

ua::Coro<bool> acquire_coro(ua::Lock& lock) {
  co_return co_await lock.acquire();
}

ua::Coro<void> acquire_times_out(ua::Lock& lock, Lines& out) {
  co_await lock.acquire();
  try {
    co_await ua::wait_for_ms(acquire_coro(lock), 50);
  } catch (const ua::TimeoutError&) {
    out.push_back("timeout");
  }
  lock.release();
  // The timed-out waiter left the queue: nobody is handed the lock.
  out.push_back("locked " + py_bool(lock.locked()));
  co_await lock.acquire();
  out.push_back("reacquired");
  lock.release();
}

ua::Coro<void> exclusive_worker(ua::Lock& lock, int* inside, int* max_inside, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    auto guard = co_await lock.scoped();
    ++*inside;
    if (*inside > *max_inside) *max_inside = *inside;
    co_await ua::sleep_ms(i % 3);
    --*inside;
  }
}

ua::Coro<void> contend(ua::Lock& lock, int rounds, long* count) {
  for (int i = 0; i < rounds; ++i) {
    co_await lock.acquire();
    ++*count;
    co_await ua::sleep(0);
    lock.release();
  }
}

ua::Coro<void> contended_without_allocation(int rounds, long* count, long* allocated) {
  ua::Lock lock;
  ua::Task<void> a = ua::create_task(contend(lock, rounds, count));
  ua::Task<void> b = ua::create_task(contend(lock, rounds, count));
  while (*count < 20)
    co_await ua::sleep(0);
  const long before = test_support::allocations.load();
  co_await a;
  co_await b;
  *allocated = test_support::allocations.load() - before;
}

}  // namespace

using Lock = LoopTest;

TEST_F(Lock, StartsUnlocked) {
  ua::Lock lock;
  EXPECT_FALSE(lock.locked());
}

TEST_F(Lock, AcquireOnAFreeLockReturnsTrueWithoutYielding) {
  ua::Lock lock;
  bool result = false;
  ua::run(acquire_free_lock(lock, lines_, &result));
  EXPECT_TRUE(result);
  EXPECT_EQ(lines_, (Lines{"acquired, locked", "other task"}));
  EXPECT_FALSE(lock.locked());
}

TEST_F(Lock, ReleaseWhenNotLockedRaisesLockNotAcquired) {
  ua::Lock lock;
  std::string message;
  ua::run(release_unlocked(lock, &message));
  EXPECT_EQ(message, "Lock not acquired");
}

TEST_F(Lock, WaitersGetTheLockInTheOrderTheyStartedWaiting) {
  ua::Lock lock;
  ua::run(fifo_by_wait_order(lock, lines_));
  EXPECT_EQ(lines_, (Lines{"w3 has", "w2 has", "w1 has", "w0 has"}));
  EXPECT_FALSE(lock.locked());
}

TEST_F(Lock, LockedIsFalseDuringHandOffYetANewcomerQueues) {
  ua::Lock lock;
  ua::run(hand_off_window(lock, lines_));
  EXPECT_EQ(lines_,
            (Lines{"window locked False", "window release raised True", "a has", "main has"}));
  EXPECT_FALSE(lock.locked());
}

TEST_F(Lock, CancelledWaiterIsRemovedFromTheQueue) {
  ua::Lock lock;
  bool victim_cancelled = false;
  ua::run(cancel_queued_waiter(lock, lines_, &victim_cancelled));
  EXPECT_TRUE(victim_cancelled);
  EXPECT_EQ(lines_, (Lines{"b cancelled", "a has", "c has", "locked False"}));
}

TEST_F(Lock, WaiterCancelledAfterHandOffPassesTheLockOn) {
  ua::Lock lock;
  ua::run(cancel_after_hand_off(lock, lines_, true));
  EXPECT_EQ(lines_, (Lines{"a cancelled", "b has", "locked False", "main has"}));
}

TEST_F(Lock, WaiterCancelledAfterHandOffWithNobodyWaitingUnlocks) {
  ua::Lock lock;
  ua::run(cancel_after_hand_off(lock, lines_, false));
  EXPECT_EQ(lines_, (Lines{"a cancelled", "locked False", "main has"}));
}

TEST_F(Lock, ScopedGuardReleasesOnScopeExitExceptionCancelAndUnlock) {
  ua::Lock lock;
  ua::run(guard_cases(lock, lines_));
  EXPECT_EQ(lines_,
            (Lines{"scope locked True", "after scope False", "after exception False", "holding",
                   "cancelled while holding", "after cancel False", "after unlock False"}));
  EXPECT_FALSE(lock.locked());
}

TEST_F(Lock, AcquireThatTimesOutLeavesTheQueue) {
  ua::Lock lock;
  ua::run(acquire_times_out(lock, lines_));
  EXPECT_EQ(lines_, (Lines{"timeout", "locked False", "reacquired"}));
  EXPECT_EQ(elapsed_ms(), 50);
}

TEST_F(Lock, NeverTwoHoldersAtOnce) {
  ua::Lock lock;
  int inside = 0;
  int max_inside = 0;
  std::vector<ua::Task<void>> workers;
  for (int i = 0; i < 10; ++i) {
    workers.push_back(ua::create_task(exclusive_worker(lock, &inside, &max_inside, 50)));
  }
  ua::run(ua::gather(std::move(workers)));
  EXPECT_EQ(max_inside, 1);
  EXPECT_EQ(inside, 0);
  EXPECT_FALSE(lock.locked());
}

TEST_F(Lock, MicroPythonAsyncioLock) {
  ua::run(micropython_lock_main(lines_));
  EXPECT_EQ(lines_, (Lines{"False",
                           "True",
                           "False",
                           "have lock",
                           "----",
                           "task start 1",
                           "task start 2",
                           "task start 3",
                           "task have 1 0",
                           "task have 2 0",
                           "task have 3 0",
                           "task have 1 1",
                           "task have 2 1",
                           "task have 3 1",
                           "task have 1 2",
                           "task end 1",
                           "task have 2 2",
                           "task end 2",
                           "task have 3 2",
                           "task end 3",
                           "----",
                           "task have True",
                           "task release False",
                           "task have True",
                           "task release False",
                           "task have again",
                           "task have again",
                           "----",
                           "task got 0",
                           "task release 0",
                           "task cancel 1",
                           "task got 2",
                           "task release 2",
                           "False",
                           "----",
                           "task got 0",
                           "task cancel 1",
                           "task release 0",
                           "task got 2",
                           "task cancel 2",
                           "False"}));
}

TEST_F(Lock, MicroPythonAsyncioLockCancel) {
  ua::run(micropython_lock_cancel_main(lines_));
  EXPECT_EQ(lines_, (Lines{"task 0 start", "task 1 start", "task 2 start", "task 3 start",
                           "task 1 cancel", "task 2 cancel", "task 0 lock_flag False",
                           "task 0 done", "task 3 lock_flag False", "task 3 done", "False"}));
}

TEST_F(Lock, ContendedAcquireAndReleaseDoNotAllocate) {
  long count = 0;
  long allocated = -1;
  ua::run(contended_without_allocation(5'000, &count, &allocated));
  EXPECT_EQ(count, 10'000);
  EXPECT_EQ(allocated, 0);
}
