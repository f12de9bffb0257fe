#include "uasyncd/schedule/cron_schedule.hpp"

#include <algorithm>

#include "uasyncd/schedule/cron_calendar.hpp"

namespace uasyncd::schedule {
namespace {

using namespace std::chrono;

// A search crosses at most this many zone segments (two a year for a zone with daylight saving,
// over the 400 years next_cron_match looks ahead, with room to spare) before it says "never".
constexpr int kMaxSegments = 4096;
// Offsets of one zone differ by at most about a day (a zone moving across the date line), so a
// change of offset shows in the wall clock for at most this long after it.
constexpr seconds kLongestOffsetChange{48h};

local_seconds wall_clock(sys_seconds t, seconds offset) {
  return local_seconds{(t + offset).time_since_epoch()};
}

sys_seconds utc(local_seconds t, seconds offset) {
  return sys_seconds{t.time_since_epoch() - offset};
}

// next_cron_match with the last answer kept: while the segments of a zone are walked, each asks
// from a later wall-clock time, and the answer stands as long as it is not passed.
class MatchSearch {
 public:
  explicit MatchSearch(const CronExpr& cron) : cron_(cron) {}

  std::optional<local_seconds> from(local_seconds t) {
    if (match_ && t >= from_ && t <= *match_) return match_;
    from_ = t;
    match_ = next_cron_match(cron_, t);
    return match_;
  }

 private:
  const CronExpr& cron_;
  local_seconds from_;
  std::optional<local_seconds> match_;
};

// The first fire at or after `from`, walking the zone's segments: in each, the wall clock is
// UTC + a fixed offset, so a wall-clock match in the segment's span is a fire.
std::optional<sys_seconds> first_fire_from(const CronSchedule& schedule, sys_seconds from) {
  const CronExpr& cron = schedule.cron;
  MatchSearch search(cron);
  if (schedule.zone.is_utc()) {
    std::optional<local_seconds> match = search.from(wall_clock(from, seconds{0}));
    if (!match) return std::nullopt;
    return utc(*match, seconds{0});
  }
  sys_seconds u = from;
  std::optional<seconds> previous_offset;  // of the segment walked before this one
  for (int i = 0; i < kMaxSegments; ++i) {
    const ZoneSegment segment = schedule.zone.segment_at(u);
    const seconds offset = segment.offset;
    local_seconds wall_from = wall_clock(u, offset);
    if (!cron.interval_like && segment.begin > kEarliestFire &&
        u - segment.begin < kLongestOffsetChange) {
      const seconds before = previous_offset
                                 ? *previous_offset
                                 : schedule.zone.segment_at(segment.begin - seconds{1}).offset;
      if (before > offset) {
        // The clock went back: the wall-clock times from the change up to wall_clock(begin,
        // before) happened in the previous segment, and fire at that first occurrence only.
        wall_from = std::max(wall_from, wall_clock(segment.begin, before));
      } else if (before < offset && u == segment.begin) {
        // The clock jumped forward over [wall_clock(begin, before), wall_clock(begin, offset)):
        // if the expression fires in that gap, it fires once, at the first instant after it.
        std::optional<local_seconds> skipped = search.from(wall_clock(segment.begin, before));
        if (skipped && *skipped < wall_clock(segment.begin, offset)) return segment.begin;
      }
    }
    std::optional<local_seconds> match = search.from(wall_from);
    if (!match) return std::nullopt;
    if (*match < wall_clock(segment.end, offset)) return utc(*match, offset);
    if (segment.end > kLatestFire) return std::nullopt;
    u = segment.end;
    previous_offset = offset;
  }
  return std::nullopt;
}

}  // namespace

std::optional<Instant> next_fire(const CronSchedule& schedule, Instant after) {
  const sys_seconds from = std::max(floor<seconds>(after) + seconds{1}, kEarliestFire);
  if (from > kLatestFire) return std::nullopt;
  std::optional<sys_seconds> fire = first_fire_from(schedule, from);
  if (!fire || *fire > kLatestFire) return std::nullopt;
  return Instant{*fire};
}

}  // namespace uasyncd::schedule
