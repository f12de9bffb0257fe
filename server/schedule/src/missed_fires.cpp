#include "uasyncd/schedule/missed_fires.hpp"

#include <algorithm>

namespace uasyncd::schedule {
namespace {

// The latest fire in (known, now], given that `known` is a fire (or the last fire stored) and
// that some fire follows it at or before now: the last instant t from which the next fire is
// still at or before now, found by bisection (about 45 steps over 10,000 years of milliseconds).
Instant latest_fire_until(const Schedule& schedule, Instant known, Instant now) {
  Instant low = known;  // next_fire(low) <= now
  Instant high = now;   // next_fire(high) > now
  while (high - low > std::chrono::milliseconds{1}) {
    const Instant middle = low + (high - low) / 2;
    std::optional<Instant> fire = next_fire(schedule, middle);
    if (fire && *fire <= now) {
      low = middle;
    } else {
      high = middle;
    }
  }
  return *next_fire(schedule, low);
}

}  // namespace

MissedFires missed_fires(const Schedule& schedule, Instant last_fire, Instant now) {
  // Nothing fires outside the calendar span; clamping keeps now - last_fire from overflowing.
  const Instant before_all{kEarliestFire - std::chrono::milliseconds{1}};
  const Instant after_all{kLatestFire};
  last_fire = std::clamp(last_fire, before_all, after_all);
  now = std::clamp(now, before_all, after_all);
  MissedFires missed;
  missed.next = next_fire(schedule, std::max(last_fire, now));
  std::optional<Instant> fire = next_fire(schedule, last_fire);
  while (fire && *fire <= now) {
    if (missed.count == kMaxMissedCount) {
      missed.capped = true;
      missed.latest = latest_fire_until(schedule, *missed.latest, now);
      return missed;
    }
    ++missed.count;
    missed.latest = fire;
    fire = next_fire(schedule, *fire);
  }
  return missed;
}

}  // namespace uasyncd::schedule
