// Under AddressSanitizer the frame pool is off whichever compiler builds it (g++ says so with
// __SANITIZE_ADDRESS__, clang only with __has_feature(address_sanitizer)): frames come from
// operator new, so a use after free of a frame is caught and LeakSanitizer sees what a suspended
// task holds. With the pool on, its slabs are mmap'ed memory that LeakSanitizer does not scan:
// every block held only by a suspended coroutine was reported as leaked (the clang fuzz build).
#include <gtest/gtest.h>
#include <uasyncio/uasyncio.hpp>

#include <memory>
#include <vector>

#include "loop_fixture.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define UASYNCIO_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UASYNCIO_TEST_ASAN 1
#endif
#endif

#ifdef UASYNCIO_TEST_ASAN
#include <sanitizer/lsan_interface.h>
#endif

namespace ua = uasyncio;

#ifdef UASYNCIO_TEST_ASAN
namespace {

// Holds a heap block in its frame only, until the event is set.
ua::Coro<int> holder(ua::Event& release) {
  auto block = std::make_unique<int[]>(64);
  block[0] = 7;
  co_await release.wait();
  co_return block[0];
}

ua::Coro<int> check_while_suspended(int* leaks) {
  ua::Event release;
  std::vector<ua::Task<int>> tasks;
  for (int i = 0; i < 100; ++i)
    tasks.push_back(ua::create_task(holder(release)));
  co_await ua::sleep(0);  // every holder has its block and waits
  *leaks = __lsan_do_recoverable_leak_check();
  release.set();
  int sum = 0;
  for (ua::Task<int>& t : tasks)
    sum += co_await t;
  co_return sum;
}

}  // namespace
#endif

using FramePoolUnderSanitizers = LoopTest;

TEST_F(FramePoolUnderSanitizers, FramesComeFromOperatorNewUnderAddressSanitizer) {
#ifndef UASYNCIO_TEST_ASAN
  GTEST_SKIP() << "not an AddressSanitizer build";
#else
  EXPECT_FALSE(ua::detail::kFramePoolEnabled);
  int leaks = -1;
  EXPECT_EQ(ua::run(check_while_suspended(&leaks)), 700);
  EXPECT_EQ(leaks, 0) << "LeakSanitizer took blocks held by suspended tasks for leaks";
#endif
}
