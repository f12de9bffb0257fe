// Instants as schedules read and give them: UTC, with millisecond resolution.
#pragma once

#include <chrono>

namespace uasyncd::schedule {

// A point in UTC time. Cron schedules fire on whole seconds; intervals on whole milliseconds.
using Instant = std::chrono::sys_time<std::chrono::milliseconds>;

// Schedules are computed from 0001-01-01 up to (not including) 10000-01-01 UTC: a fire time
// past kLatestFire is reported as "never", so no computation runs off the calendar.
inline constexpr std::chrono::sys_seconds kEarliestFire{
    std::chrono::sys_days{std::chrono::year{1} / 1 / 1}};
inline constexpr std::chrono::sys_seconds kLatestFire{
    std::chrono::sys_days{std::chrono::year{10000} / 1 / 1} - std::chrono::seconds{1}};

}  // namespace uasyncd::schedule
