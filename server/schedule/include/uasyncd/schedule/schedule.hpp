// A schedule: a cron expression in a time zone, or a plain interval. The one type the service
// stores and asks "when next?".
//
//   auto s = make_cron_schedule("30 2 * * *", "Europe/Berlin");
//   if (!s) return bad_request(s.error.field, s.error.message);
//   std::vector<Instant> soon = next_fires(*s.value, now, 5);
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "uasyncd/schedule/cron_schedule.hpp"
#include "uasyncd/schedule/instant.hpp"
#include "uasyncd/schedule/interval_schedule.hpp"
#include "uasyncd/schedule/schedule_error.hpp"

namespace uasyncd::schedule {

// A plain value: copy it freely, use it on any thread.
using Schedule = std::variant<CronSchedule, IntervalSchedule>;

// next_fires gives at most this many instants, whatever it is asked for.
inline constexpr std::size_t kMaxNextFires = 1000;

// "cron" and "timezone" of a schedule; the error names the one at fault. Any thread.
Parsed<Schedule> make_cron_schedule(std::string_view cron, std::string_view time_zone = "UTC");
// "every" (seconds) from `start` (the first fire). Any thread.
Parsed<Schedule> make_interval_schedule(double every_seconds, Instant start);

// The first fire strictly after `after`; nullopt if there is none before kLatestFire. Pure.
std::optional<Instant> next_fire(const Schedule& schedule, Instant after);

// The next min(n, kMaxNextFires) fires strictly after `after`, in order (fewer if the schedule
// ends before kLatestFire). Pure.
std::vector<Instant> next_fires(const Schedule& schedule, Instant after, std::size_t n);

}  // namespace uasyncd::schedule
