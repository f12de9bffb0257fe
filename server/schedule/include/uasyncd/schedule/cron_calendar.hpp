// A cron expression against wall-clock time, with no time zone: whether a local date and time
// matches, and the next one that does. Pure functions: any thread.
#pragma once

#include <chrono>
#include <optional>

#include "uasyncd/schedule/cron_expr.hpp"

namespace uasyncd::schedule {

// How far next_cron_match looks: one whole Gregorian cycle, in which every date that exists
// at all falls on every weekday, so an expression parse_cron accepted always matches within it.
inline constexpr int kCronSearchYears = 400;

// Whether the wall-clock time t (whole seconds) is one the expression fires at.
bool cron_matches(const CronExpr& cron, std::chrono::local_seconds t);

// The first wall-clock time at or after `from` that matches, looking kCronSearchYears ahead and
// no further than 9999-12-31 23:59:59; nullopt if there is none in that span. Costs a few
// steps per field, whatever the expression.
std::optional<std::chrono::local_seconds> next_cron_match(const CronExpr& cron,
                                                          std::chrono::local_seconds from);

}  // namespace uasyncd::schedule
