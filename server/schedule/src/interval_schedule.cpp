#include "uasyncd/schedule/interval_schedule.hpp"

#include <cmath>
#include <string>

namespace uasyncd::schedule {

Parsed<IntervalSchedule> make_interval(double every_seconds, Instant start) {
  if (!std::isfinite(every_seconds) || every_seconds < kMinIntervalSeconds ||
      every_seconds > kMaxIntervalSeconds) {
    return {std::nullopt,
            {"every", "every: must be a number of seconds from 0.001 to 3155760000 (100 years)"}};
  }
  if (start < kEarliestFire || start > kLatestFire) {
    return {std::nullopt, {"every", "every: the start must be in the years 1 to 9999"}};
  }
  const std::chrono::milliseconds period{std::llround(every_seconds * 1000)};
  return {IntervalSchedule{period, start}, {}};
}

std::optional<Instant> next_fire(const IntervalSchedule& schedule, Instant after) {
  if (after >= kLatestFire) return std::nullopt;
  Instant fire = schedule.start;
  if (after >= schedule.start) {
    // start and after are within the years 1-9999, so no product below overflows.
    const auto periods = (after - schedule.start) / schedule.period + 1;
    fire = schedule.start + periods * schedule.period;
  }
  if (fire > kLatestFire) return std::nullopt;
  return fire;
}

}  // namespace uasyncd::schedule
