// The exceptions of uasyncio, following MicroPython's hierarchy.
#pragma once

#include <stdexcept>
#include <string>

namespace uasyncio {

// Python's CancelledError derives from BaseException, not Exception, so that
// `except Exception` does not swallow a cancel. The C++ equivalent is not deriving from
// std::exception: `catch (const std::exception&)` lets a cancel through.
class CancelledError {
 public:
  CancelledError() = default;
  const char* what() const noexcept { return "CancelledError"; }
};

// asyncio's own TimeoutError (raised by wait_for), an ordinary exception.
class TimeoutError : public std::exception {
 public:
  const char* what() const noexcept override { return "TimeoutError"; }
};

// Python's RuntimeError, raised for misuse ("can't cancel self", "can't wait", ...).
class RuntimeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Python's ValueError, raised for a bad argument or call sequence (Queue::task_done too often).
class ValueError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Streams raise it on a short read (MicroPython's readexactly raises EOFError).
class EOFError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace uasyncio
