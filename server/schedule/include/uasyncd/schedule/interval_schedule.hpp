// Plain intervals ("every": S): fires at start, start + S, start + 2S, ... in UTC, whatever the
// wall clock does.
#pragma once

#include <chrono>
#include <optional>

#include "uasyncd/schedule/instant.hpp"
#include "uasyncd/schedule/schedule_error.hpp"

namespace uasyncd::schedule {

// The bounds of "every", in seconds: one millisecond to 100 years (of 365.25 days).
inline constexpr double kMinIntervalSeconds = 0.001;
inline constexpr double kMaxIntervalSeconds = 3'155'760'000;

// A plain value: copy it freely, use it on any thread.
struct IntervalSchedule {
  std::chrono::milliseconds period{1000};  // > 0
  Instant start;                           // the first fire; the others follow it at `period`
};

// Checks "every" (finite, from kMinIntervalSeconds to kMaxIntervalSeconds; rounded to the
// millisecond) and the start (before kLatestFire). Any thread.
Parsed<IntervalSchedule> make_interval(double every_seconds, Instant start);

// The first start + k * period (k >= 0) strictly after `after`; nullopt past kLatestFire.
// Pure, constant time: any thread.
std::optional<Instant> next_fire(const IntervalSchedule& schedule, Instant after);

}  // namespace uasyncd::schedule
