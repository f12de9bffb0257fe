// Must NOT compile: a coroutine result type aligned beyond 16 bytes. g++ 12 allocates coroutine
// frames with operator new(size) and does not align them beyond that, so such a result (and the
// task header before it) would sit misaligned; the library rejects it with a static_assert that
// names the problem. (ctest compiles this file and expects that message.)
#include <uasyncio/uasyncio.hpp>

struct alignas(32) Wide {
  double lanes[4];
};

uasyncio::Coro<Wide> make_wide() {
  co_return Wide{};
}

int main() {
  return uasyncio::run(make_wide()).lanes[0] == 0.0 ? 0 : 1;
}
