#include "uasyncd/schedule/cron_calendar.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

namespace uasyncd::schedule {
namespace {

using namespace std::chrono;

constexpr int kLastYear = 9999;

// The lowest set bit of mask at or above `from`, or -1.
int next_bit(std::uint64_t mask, int from) {
  if (from >= 64) return -1;
  std::uint64_t above = mask & (~std::uint64_t{0} << from);
  return above ? std::countr_zero(above) : -1;
}

// kWeekly[k]: bits of the days 1 + k, 8 + k, 15 + k, ... of a month (days a week apart).
constexpr std::array<std::uint32_t, 7> kWeekly = [] {
  std::array<std::uint32_t, 7> weekly{};
  for (int k = 0; k < 7; ++k) {
    for (int day = 1 + k; day <= 31; day += 7)
      weekly[k] |= std::uint32_t{1} << day;
  }
  return weekly;
}();

// The days of month m of year y the expression fires on, as bits 1-31.
std::uint32_t matching_days(const CronExpr& cron, int y, unsigned m) {
  const year_month ym{year{y}, month{m}};
  const unsigned first_weekday = weekday{sys_days{ym / 1}}.c_encoding();
  std::uint32_t by_weekday = 0;
  for (unsigned w = 0; w < 7; ++w) {
    if (cron.days_of_week >> w & 1) by_weekday |= kWeekly[(w + 7 - first_weekday) % 7];
  }
  const bool either = !cron.day_of_month_star && !cron.day_of_week_star;
  const std::uint32_t days =
      either ? (cron.days_of_month | by_weekday) : (cron.days_of_month & by_weekday);
  const unsigned length = static_cast<unsigned>((ym / last).day());
  return days & static_cast<std::uint32_t>((std::uint64_t{1} << (length + 1)) - 2);
}

}  // namespace

bool cron_matches(const CronExpr& cron, local_seconds t) {
  const local_days day = floor<days>(t);
  const year_month_day date{day};
  const hh_mm_ss<seconds> time{t - day};
  return (cron.months >> static_cast<unsigned>(date.month()) & 1) &&
         (matching_days(cron, static_cast<int>(date.year()), static_cast<unsigned>(date.month())) >>
              static_cast<unsigned>(date.day()) &
          1) &&
         (cron.hours >> time.hours().count() & 1) && (cron.minutes >> time.minutes().count() & 1) &&
         (cron.seconds >> time.seconds().count() & 1);
}

std::optional<local_seconds> next_cron_match(const CronExpr& cron, local_seconds from) {
  const local_seconds earliest{local_days{year{1} / 1 / 1}};
  from = std::max(from, earliest);
  const local_days start_day = floor<days>(from);
  const year_month_day start{start_day};
  const hh_mm_ss<seconds> start_time{from - start_day};
  int y = static_cast<int>(start.year());
  int mo = static_cast<int>(static_cast<unsigned>(start.month()));
  int d = static_cast<int>(static_cast<unsigned>(start.day()));
  int h = static_cast<int>(start_time.hours().count());
  int mi = static_cast<int>(start_time.minutes().count());
  int s = static_cast<int>(start_time.seconds().count());
  const int last_year = std::min(y + kCronSearchYears, kLastYear);

  // Field by field, coarse to fine: a field with no match left moves the next coarser one on
  // and restarts the finer ones at their first value. Each turn moves forward, and every field
  // of a parsed expression has a value, so this ends within a few turns per field.
  while (y <= last_year) {
    const int m = next_bit(cron.months, mo);
    if (m < 0) {
      ++y, mo = 1, d = 1, h = 0, mi = 0, s = 0;
      continue;
    }
    if (m != mo) mo = m, d = 1, h = 0, mi = 0, s = 0;
    const int day = next_bit(matching_days(cron, y, static_cast<unsigned>(mo)), d);
    if (day < 0) {
      ++mo, d = 1, h = 0, mi = 0, s = 0;
      continue;
    }
    if (day != d) d = day, h = 0, mi = 0, s = 0;
    const int hour = next_bit(cron.hours, h);
    if (hour < 0) {
      ++d, h = 0, mi = 0, s = 0;
      continue;
    }
    if (hour != h) h = hour, mi = 0, s = 0;
    const int minute = next_bit(cron.minutes, mi);
    if (minute < 0) {
      ++h, mi = 0, s = 0;
      continue;
    }
    if (minute != mi) mi = minute, s = 0;
    const int second = next_bit(cron.seconds, s);
    if (second < 0) {
      ++mi, s = 0;
      continue;
    }
    return local_days{year{y} / static_cast<unsigned>(mo) / static_cast<unsigned>(d)} + hours{h} +
           minutes{mi} + seconds{second};
  }
  return std::nullopt;
}

}  // namespace uasyncd::schedule
