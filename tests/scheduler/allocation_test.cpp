// The allocation budget of the design: one allocation per task (its frame), none per sleep or
// per loop turn once the queues have grown.
#include <uasyncio/uasyncio.hpp>

#include <atomic>
#include <cstdlib>
#include <new>

#include "loop_fixture.hpp"

namespace {
std::atomic<long> allocations{0};
}

void* operator new(std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
// Not inlined: g++ 12 at -Os inlines them into gtest's `new TestClass` and then takes the free()
// for one of the builtin operator new's pointer (-Wmismatched-new-delete, a false positive).
[[gnu::noinline]] void operator delete(void* p) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace ua = uasyncio;

namespace {

ua::Coro<int> leaf(int i) {
  co_return i;
}

// The first rounds let the queues grow to their working size; the rest are measured.
ua::Coro<void> sleeper(int rounds, long* allocated) {
  long before = 0;
  for (int i = 0; i < rounds; ++i) {
    if (i == 10) before = allocations.load();
    co_await ua::sleep_ms(1);
    co_await ua::sleep(0);
  }
  *allocated = allocations.load() - before;
}

// Frames come from the frame pool (not operator new) outside sanitizer builds: count both.
long allocations_and_frames() {
  return allocations.load() + static_cast<long>(ua::detail::frame_pool_of_thread.allocations());
}

ua::Coro<long> spawn_and_await(int n, long* allocated) {
  long sum = 0;
  const long before = allocations_and_frames();
  for (int i = 0; i < n; ++i)
    sum += co_await ua::create_task(leaf(i));
  *allocated = allocations_and_frames() - before;
  co_return sum;
}

}  // namespace

using Allocation = LoopTest;

TEST_F(Allocation, OnePerTask) {
  long allocated = -1;
  EXPECT_EQ(ua::run(spawn_and_await(1000, &allocated)), 999L * 1000 / 2);
  EXPECT_EQ(allocated, 1000);
}

TEST_F(Allocation, NonePerSleepOrLoopTurn) {
  long allocated = -1;
  ua::run(sleeper(10'000, &allocated));
  EXPECT_EQ(allocated, 0);
}
