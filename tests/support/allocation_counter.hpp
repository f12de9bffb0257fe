// Counts every operator new of the test program, so a test can assert that a path allocates
// nothing. Include it from exactly one file of a test program: it replaces the global operator
// new and delete.
#pragma once

#include <atomic>
#include <cstdlib>
#include <new>

namespace test_support {
inline std::atomic<long> allocations{0};
}  // namespace test_support

void* operator new(std::size_t n) {
  test_support::allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}

// Inlined, g++ 12 sees these free() memory that came from `new` and warns
// (-Wmismatched-new-delete), not knowing that this operator new is malloc.
[[gnu::noinline]] void operator delete(void* p) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
