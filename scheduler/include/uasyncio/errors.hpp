// The exceptions of uasyncio, following MicroPython's hierarchy (§1), and the one function that
// tells them apart (classify). Ordinary exception values: copy them freely, on any thread.
//
// Python's CancelledError derives from BaseException, not Exception, so that `except Exception`
// does not swallow a cancel; here CancelledError does not derive from std::exception, so
// `catch (const std::exception&)` lets a cancel through. An exception of any other type that is
// not a std::exception plays the part of SystemExit/KeyboardInterrupt: raised in any task, it
// leaves run() at once (§1.4).
#pragma once

#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>

namespace uasyncio {

// §1.1, asyncio.CancelledError: what a cancelled task's await point raises.
class CancelledError {
 public:
  CancelledError() = default;
  const char* what() const noexcept { return "CancelledError"; }
};

// §1.2, asyncio.TimeoutError (raised by wait_for), an ordinary exception.
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

// How run() and the exception reports treat an exception (§1, §8).
enum class ErrorKind : unsigned char {
  none,       // no exception at all
  cancelled,  // CancelledError: ends a task quietly, never reported (§8.3)
  exception,  // an ordinary exception (a std::exception): Python's Exception
  other,      // anything else: leaves run() at once, as SystemExit does (§1.4)
};

struct ErrorClass {
  ErrorKind kind = ErrorKind::none;
  // The Python name of the class: "CancelledError", "TimeoutError", "RuntimeError",
  // "ValueError", "EOFError", "QueueEmpty", "QueueFull", "OSError" and its subclasses
  // ("BrokenPipeError", "ConnectionResetError", ..., "gaierror"); "Exception" for any other
  // std::exception, "BaseException" for anything else, "" for none.
  const char* name = "";
  // The std::exception inside the exception_ptr (valid as long as that pointer is), or null.
  const std::exception* exception = nullptr;
  // The exception's C++ type (for reports), or null for none.
  const std::type_info* cxx_type = nullptr;

  // Its what(), or "" for CancelledError and TimeoutError (Python makes them without arguments)
  // and for exceptions that are not std::exception.
  std::string_view message() const noexcept;
};

// Classifies `e` (null gives ErrorKind::none). The one place the library inspects an exception's
// type by rethrowing it; the daemon's task records and the examples use it too.
ErrorClass classify(const std::exception_ptr& e) noexcept;

// True if `e` holds an E (or a class derived from E).
template <class E>
bool holds(const std::exception_ptr& e) noexcept {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace uasyncio
