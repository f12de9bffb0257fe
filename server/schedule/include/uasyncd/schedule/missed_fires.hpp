// Catch-up: what a schedule missed while nothing fired it (the daemon was down or the schedule
// paused), from the last fire stored to now. Enough for the policies "none" (skip them all:
// fire next at `next`) and "one" (fire once now for `latest`, then at `next`).
#pragma once

#include <cstdint>
#include <optional>

#include "uasyncd/schedule/instant.hpp"
#include "uasyncd/schedule/schedule.hpp"

namespace uasyncd::schedule {

// missed_fires counts at most this many; past it, the count stops and `capped` says so.
inline constexpr std::uint32_t kMaxMissedCount = 1000;

// A plain value.
struct MissedFires {
  std::uint32_t count = 0;        // fires in (last_fire, now], at most kMaxMissedCount
  bool capped = false;            // there were more than kMaxMissedCount
  std::optional<Instant> latest;  // the latest fire in (last_fire, now]; nullopt if count is 0
  std::optional<Instant> next;    // the first fire after both last_fire and now
};

// The fires in (last_fire, now], and the next one. `next` is after last_fire even when the
// clock went back (now < last_fire), so no occurrence fires twice. Pure: any thread; costs at
// most kMaxMissedCount + 64 next_fire calls.
MissedFires missed_fires(const Schedule& schedule, Instant last_fire, Instant now);

}  // namespace uasyncd::schedule
