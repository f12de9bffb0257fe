// What the Python interpreter gives the seed examples for free: print() and the report of an
// exception that escapes the program.
//
// UASYNCIO_EXAMPLE_TIMES=1 prefixes every line with the loop time in seconds ("[7.000] "), so
// a test can check when each line was printed (with UASYNCIO_CLOCK=virtual it is exact).
#pragma once

#include <uasyncio/uasyncio.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <source_location>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace example {

inline std::string time_prefix() {
  const char* on = std::getenv("UASYNCIO_EXAMPLE_TIMES");
  if (on == nullptr || std::strcmp(on, "1") != 0) return {};
  const std::int64_t ms = uasyncio::ticks_ms();
  char buf[32];
  std::snprintf(buf, sizeof buf, "[%lld.%03lld] ", static_cast<long long>(ms / 1000),
                static_cast<long long>(ms % 1000));
  return buf;
}

// Python's str() of what print() is given: bools are True/False, the rest as streamed.
template <class T>
void put_str(std::ostringstream& out, const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    out << (v ? "True" : "False");
  } else {
    out << v;
  }
}

// Python's print(*args): the arguments separated by spaces, one line, flushed at once so the
// line is out before anything else the program does (or a crash).
template <class... Args>
void print(const Args&... args) {
  std::ostringstream out;
  out << time_prefix();
  bool first = true;
  ((out << (first ? "" : " "), put_str(out, args), first = false), ...);
  out << '\n';
  const std::string line = out.str();
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

// The Python name of an exception and its message ("" when it has none).
inline std::pair<std::string, std::string> describe(std::exception_ptr e) {
  const uasyncio::ErrorClass error = uasyncio::classify(e);
  return {error.name, std::string(error.message())};
}

// MicroPython's repr of an exception object: CancelledError(), RuntimeError('x',).
inline std::string repr(std::exception_ptr e) {
  auto [name, message] = describe(e);
  return message.empty() ? name + "()" : name + "('" + message + "',)";
}

// Runs the program as the interpreter runs a module: an exception that escapes is reported on
// stderr as a traceback and the process exits with status 1 (a C++ uncaught exception would
// abort instead).
template <class F>
int python_main(F&& program, std::source_location where = std::source_location::current()) {
  try {
    program();
    return 0;
  } catch (...) {
    auto [name, message] = describe(std::current_exception());
    std::string_view file = where.file_name();
    if (auto slash = file.rfind('/'); slash != std::string_view::npos)
      file.remove_prefix(slash + 1);
    std::ostringstream out;
    out << time_prefix() << "Traceback (most recent call last):\n  File \"" << file << "\", line "
        << where.line() << ", in <module>\n"
        << name << (message.empty() ? "" : ": ") << message << '\n';
    const std::string text = out.str();
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fflush(stderr);
    return 1;
  }
}

}  // namespace example
