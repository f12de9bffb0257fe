// Why a schedule's input was refused, and the result type of every function that reads input.
#pragma once

#include <optional>
#include <string>

namespace uasyncd::schedule {

struct ScheduleError {
  // The input that was refused, named as the HTTP API's JSON names it: "cron", "timezone" or
  // "every"; empty when nothing was refused.
  std::string field;
  // One line for the user that starts with the field and says what is wrong and where, e.g.
  // "cron: minute field: 61 is out of range 0-59". Quotes only text that passed the input's
  // character check, so it is safe to log and to return in an HTTP body.
  std::string message;
};

// A value read from untrusted input, or the error that says why there is none. A plain value:
// copy it freely, use it on any thread.
template <class T>
struct Parsed {
  std::optional<T> value;
  ScheduleError error;  // set when value is empty

  explicit operator bool() const { return value.has_value(); }
};

}  // namespace uasyncd::schedule
