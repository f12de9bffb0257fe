// §16.1: the API level follows MicroPython's asyncio.__version__.
#include <uasyncio/uasyncio.hpp>

#include <gtest/gtest.h>

namespace ua = uasyncio;

TEST(Version, IsMicroPythonAsyncio300) {
  static_assert(ua::version.major == 3 && ua::version.minor == 0 && ua::version.micro == 0);
  EXPECT_EQ(ua::version.major, 3);
  EXPECT_EQ(ua::version.minor, 0);
  EXPECT_EQ(ua::version.micro, 0);
}
