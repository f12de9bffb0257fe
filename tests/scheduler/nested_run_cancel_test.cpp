// A cancel that reaches a task while it is inside a nested run() is raised when that run returns
// (the nested run is the task's await point), not after the task's next wait.
#include <uasyncio/uasyncio.hpp>

#include "loop_fixture.hpp"

namespace ua = uasyncio;

namespace {

ua::Coro<int> inner() {
  co_await ua::sleep(2);
  co_return 1;
}

ua::Coro<void> cancel_after(ua::AnyTask target, double seconds, bool* accepted) {
  co_await ua::sleep(seconds);
  *accepted = target.cancel();
}

ua::Coro<std::int64_t> outer(bool* accepted, bool* slept) {
  ua::create_task(cancel_after(ua::current_task(), 1, accepted));
  try {
    ua::run(inner());
  } catch (const ua::CancelledError&) {
    co_return ua::ticks_ms();
  }
  co_await ua::sleep(5);
  *slept = true;
  co_return -1;
}

}  // namespace

using NestedRun = LoopTest;

TEST_F(NestedRun, CancelDuringNestedRunIsRaisedWhenItReturns) {
  bool accepted = false;
  bool slept = false;
  const std::int64_t start = ua::ticks_ms();
  const std::int64_t raised_at = ua::run(outer(&accepted, &slept));
  EXPECT_TRUE(accepted);
  EXPECT_FALSE(slept);
  EXPECT_EQ(raised_at - start, 2000);
}
