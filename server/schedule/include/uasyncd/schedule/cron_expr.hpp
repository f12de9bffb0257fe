// Cron expressions: which seconds, minutes, hours, days and months fire, parsed from the text a
// user writes.
//
//   "0 3 * * *"               five fields: minute hour day-of-month month day-of-week
//   "*/15 9-17 * * MON-FRI"   steps, ranges and names
//   "*/7 * * * * *"           six fields: a leading second field
//   "@daily"                  macros: @yearly @annually @monthly @weekly @daily @midnight @hourly
//
// The dialect is Vixie cron's (the cron of Debian) plus the seconds field; docs/schedules.md
// describes it for users. A CronExpr says nothing of time zones: cron_calendar.hpp matches it
// against wall-clock times, cron_schedule.hpp places it in a zone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "uasyncd/schedule/schedule_error.hpp"

namespace uasyncd::schedule {

// Longer input is refused before it is looked at, so parsing costs bounded time and memory.
inline constexpr std::size_t kMaxCronLength = 512;

// A parsed expression: one bit set per field. A plain value: copy it freely, use it on any
// thread. parse_cron only returns expressions that fire (at least once in any 400 years).
struct CronExpr {
  std::uint64_t seconds = 0;        // bit s: second s (0-59); 5-field expressions have only bit 0
  std::uint64_t minutes = 0;        // bit m: minute m (0-59)
  std::uint32_t hours = 0;          // bit h: hour h (0-23)
  std::uint32_t days_of_month = 0;  // bit d: day d (1-31)
  std::uint16_t months = 0;         // bit m: month m (1 = January ... 12 = December)
  std::uint8_t days_of_week = 0;    // bit w: weekday w (0 = Sunday ... 6 = Saturday; 7 is 0)
  // Vixie cron's day rule: when both day fields are restricted (neither is written starting
  // with '*'), a day fires if either field matches it; otherwise both must match.
  bool day_of_month_star = false;
  bool day_of_week_star = false;
  // The second, minute or hour field is written with '*' or a step: the expression fires at
  // intervals through the day, so daylight-saving changes get no special treatment
  // (cron_schedule.hpp says what that means).
  bool interval_like = false;
};

// Parses a cron expression; the error names the field and the item at fault. Any thread.
Parsed<CronExpr> parse_cron(std::string_view text);

}  // namespace uasyncd::schedule
