// The API level (§16.1).
#pragma once

namespace uasyncio {

// MicroPython's asyncio.__version__ (§16.1): the uasyncio API level this library follows, (3, 0,
// 0).
struct Version {
  int major, minor, micro;
};
inline constexpr Version version{3, 0, 0};

}  // namespace uasyncio
