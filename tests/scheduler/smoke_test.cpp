#include <uasyncio/uasyncio.hpp>

#include "loop_fixture.hpp"

namespace ua = uasyncio;

namespace {
ua::Coro<int> quick(int i) {
  co_return i;
}
ua::Coro<long> chain(int n) {
  long sum = 0;
  for (int i = 0; i < n; ++i)
    sum += co_await quick(1);
  co_return sum;
}
}  // namespace

using Smoke = LoopTest;

TEST_F(Smoke, MillionChainedSynchronousAwaitsDoNotGrowTheStack) {
  EXPECT_EQ(ua::run(chain(1'000'000)), 1'000'000);
}
