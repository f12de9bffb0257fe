// Awaiting a task that has not started yet (§3, §4.1, §6.2-6.3, §7.1, §14). The scheduler may run
// such a task straight from the awaiting one when it would have picked it next anyway; these
// tests pin down that nothing observable changes: the run-queue order, current_task(), cancel
// forwarding, the end of run() and the polling of I/O between long runs of ready tasks.
#include <gtest/gtest.h>
#include <uasyncio/uasyncio.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "loop_fixture.hpp"

namespace ua = uasyncio;

namespace {

std::vector<std::string> lines;

void say(std::string line) {
  lines.push_back(std::move(line));
}

class AwaitFreshTask : public LoopTest {
 protected:
  void SetUp() override {
    LoopTest::SetUp();
    lines.clear();
  }
};

ua::Coro<void> note(std::string name) {
  say(name);
  co_return;
}

// Queues another task while it runs, then returns.
ua::Coro<int> spawns_then_returns() {
  say("child");
  ua::create_task(note("spawned"));
  co_return 7;
}

ua::Coro<void> awaits_child_that_spawns() {
  const int v = co_await ua::create_task(spawns_then_returns());
  say("parent got " + std::to_string(v));
}

ua::Coro<void> awaits_child_behind_another() {
  ua::create_task(note("queued first"));
  co_await ua::create_task(note("child"));
  say("parent");
}

ua::Coro<bool> reports_itself(ua::AnyTask parent) {
  const ua::AnyTask self = ua::current_task();
  co_return !(self == parent) && self;
}

ua::Coro<bool> current_task_follows_the_running_task() {
  const ua::AnyTask parent = ua::current_task();
  const bool child_saw_itself = co_await ua::create_task(reports_itself(parent));
  co_return child_saw_itself&& ua::current_task() == parent;
}

ua::Coro<void> cancels(ua::AnyTask target) {
  say(target.cancel() ? "cancel returned true" : "cancel returned false");
  co_return;
}

// Starts a task that cancels `parent` (which awaits this one), then sleeps.
ua::Coro<void> sleeps_while_its_awaiter_is_cancelled(ua::AnyTask parent) {
  ua::create_task(cancels(parent));
  try {
    co_await ua::sleep(1);
    say("child woke");
  } catch (const ua::CancelledError&) {
    say("child cancelled");
    throw;
  }
}

ua::Coro<void> awaits_child_then_is_cancelled() {
  try {
    co_await ua::create_task(sleeps_while_its_awaiter_is_cancelled(ua::current_task()));
    say("parent went on");
  } catch (const ua::CancelledError&) {
    say("parent cancelled");
  }
}

ua::Coro<void> waits_for_flag(ua::ThreadSafeFlag& flag, const std::int64_t& iteration,
                              std::int64_t& woken_at) {
  co_await flag.wait();
  woken_at = iteration;
}

ua::Coro<void> nop() {
  co_return;
}

ua::Coro<std::int64_t> creates_and_awaits_while_io_is_pending(std::int64_t n) {
  ua::ThreadSafeFlag flag;
  std::int64_t iteration = 0;
  std::int64_t woken_at = -1;
  ua::create_task(waits_for_flag(flag, iteration, woken_at));
  co_await ua::sleep(0);  // the waiter is now waiting on the flag
  flag.set();             // ready for the next I/O poll
  for (; iteration < n; ++iteration)
    co_await ua::create_task(nop());
  co_return woken_at;
}

}  // namespace

// §4.1, §7.1: the child queues a task before it returns; that task was queued before the parent
// was woken, so it runs first.
TEST_F(AwaitFreshTask, TaskQueuedByTheChildRunsBeforeTheWokenParent) {
  ua::run(awaits_child_that_spawns());
  EXPECT_EQ(lines, (std::vector<std::string>{"child", "spawned", "parent got 7"}));
}

// §4.1: a task queued before the child still runs before it.
TEST_F(AwaitFreshTask, TaskQueuedBeforeTheChildRunsFirst) {
  ua::run(awaits_child_behind_another());
  EXPECT_EQ(lines, (std::vector<std::string>{"queued first", "child", "parent"}));
}

// §14: current_task() is the child while it runs and the parent again afterwards.
TEST_F(AwaitFreshTask, CurrentTaskIsTheChildWhileItRuns) {
  EXPECT_TRUE(ua::run(current_task_follows_the_running_task()));
}

// §6.3-6.4: a cancel of the awaiting task goes to the child it awaits (asleep, so woken at once),
// and its CancelledError comes back up to the awaiting task.
TEST_F(AwaitFreshTask, CancellingTheAwaiterCancelsTheChild) {
  ua::run(awaits_child_then_is_cancelled());
  EXPECT_EQ(lines, (std::vector<std::string>{"cancel returned true", "child cancelled",
                                             "parent cancelled"}));
  EXPECT_EQ(elapsed_ms(), 0);
}

// I/O is polled between long runs of ready tasks: a flag set before a long chain of
// create_task + await wakes its waiter in the middle of the chain, not after it.
TEST_F(AwaitFreshTask, IoIsPolledDuringLongChains) {
  constexpr std::int64_t kIterations = 100'000;
  const std::int64_t woken_at = ua::run(creates_and_awaits_while_io_is_pending(kIterations));
  EXPECT_GE(woken_at, 0);
  EXPECT_LT(woken_at, 5'000);
}
