// A cron expression placed in a time zone: when it fires, in UTC, with defined rules for the
// wall-clock times that daylight-saving changes skip or repeat.
//
// The rules (docs/schedules.md says them for users):
// - A wall-clock time that happens once fires at that instant.
// - Skipped times (spring forward, e.g. 02:00-02:59 in Europe/Berlin on 2026-03-29): an
//   expression at fixed times of day fires once, at the first instant after the gap (03:00
//   there), however many of its times the gap held; an interval-like expression
//   (CronExpr::interval_like: '*' or a step in its second, minute or hour field) does not fire
//   for them, as its other times go on around the gap.
// - Repeated times (fall back, e.g. 02:00-02:59 twice on 2026-10-25): an expression at fixed
//   times fires at the first occurrence only; an interval-like one fires at both, so "every
//   15 minutes" stays every 15 minutes in UTC.
#pragma once

#include <optional>

#include "uasyncd/schedule/cron_expr.hpp"
#include "uasyncd/schedule/instant.hpp"
#include "uasyncd/schedule/time_zone.hpp"

namespace uasyncd::schedule {

// A plain value: copy it freely, use it on any thread.
struct CronSchedule {
  CronExpr cron;
  TimeZone zone;  // UTC by default
};

// The first fire strictly after `after`, on a whole second; nullopt if it does not fire again
// before kLatestFire. Pure: any thread; typically well under a microsecond (bench/schedule_bench).
std::optional<Instant> next_fire(const CronSchedule& schedule, Instant after);

}  // namespace uasyncd::schedule
