#include "uasyncd/schedule/schedule.hpp"

#include <algorithm>

namespace uasyncd::schedule {

Parsed<Schedule> make_cron_schedule(std::string_view cron, std::string_view time_zone) {
  Parsed<CronExpr> expr = parse_cron(cron);
  if (!expr) return {std::nullopt, std::move(expr.error)};
  Parsed<TimeZone> zone = find_time_zone(time_zone);
  if (!zone) return {std::nullopt, std::move(zone.error)};
  return {CronSchedule{*expr.value, *zone.value}, {}};
}

Parsed<Schedule> make_interval_schedule(double every_seconds, Instant start) {
  Parsed<IntervalSchedule> interval = make_interval(every_seconds, start);
  if (!interval) return {std::nullopt, std::move(interval.error)};
  return {*interval.value, {}};
}

std::optional<Instant> next_fire(const Schedule& schedule, Instant after) {
  return std::visit([after](const auto& s) { return next_fire(s, after); }, schedule);
}

std::vector<Instant> next_fires(const Schedule& schedule, Instant after, std::size_t n) {
  std::vector<Instant> fires;
  fires.reserve(std::min(n, kMaxNextFires));
  for (std::optional<Instant> fire = next_fire(schedule, after);
       fire && fires.size() < std::min(n, kMaxNextFires); fire = next_fire(schedule, *fire)) {
    fires.push_back(*fire);
  }
  return fires;
}

}  // namespace uasyncd::schedule
