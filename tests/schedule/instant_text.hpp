// Instants as text in the schedule tests, so that expectations read as a calendar:
// "2026-03-29T01:00:00Z" in UTC, "2026-03-29 03:00:00 +02:00" on a zone's wall clock, and
// "never" for no fire.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "uasyncd/schedule/instant.hpp"
#include "uasyncd/schedule/time_zone.hpp"

namespace schedule_test {

using uasyncd::schedule::Instant;
using uasyncd::schedule::TimeZone;

// "YYYY-MM-DD hh:mm:ss" as a wall-clock time.
inline std::chrono::local_seconds local(std::string_view text) {
  int y = 0;
  unsigned mo = 0, d = 0, h = 0, mi = 0, s = 0;
  std::string copy(text);
  EXPECT_EQ(std::sscanf(copy.c_str(), "%d-%u-%u %u:%u:%u", &y, &mo, &d, &h, &mi, &s), 6) << text;
  using namespace std::chrono;
  return local_days{year{y} / mo / d} + hours{h} + minutes{mi} + seconds{s};
}

// "YYYY-MM-DDThh:mm:ssZ" or "YYYY-MM-DDThh:mm:ss.mmmZ" in UTC.
inline Instant utc(std::string_view text) {
  std::string copy(text);
  for (char& c : copy) {
    if (c == 'T' || c == 'Z') c = ' ';
  }
  unsigned ms = 0;
  std::size_t dot = copy.find('.');
  if (dot != std::string::npos) {
    EXPECT_EQ(std::sscanf(copy.c_str() + dot + 1, "%u", &ms), 1) << text;
    copy.resize(dot);
  }
  return Instant{local(copy).time_since_epoch()} + std::chrono::milliseconds{ms};
}

// "YYYY-MM-DD hh:mm:ss" of a wall-clock time (".mmm" added when not whole).
inline std::string text(std::chrono::local_time<std::chrono::milliseconds> t) {
  using namespace std::chrono;
  const local_days day = floor<days>(t);
  const year_month_day date{day};
  const hh_mm_ss<milliseconds> time{t - day};
  char out[48];
  int n = std::snprintf(out, sizeof out, "%04d-%02u-%02u %02ld:%02ld:%02ld",
                        static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                        static_cast<unsigned>(date.day()), static_cast<long>(time.hours().count()),
                        static_cast<long>(time.minutes().count()),
                        static_cast<long>(time.seconds().count()));
  if (time.subseconds().count() != 0) {
    std::snprintf(out + n, sizeof out - static_cast<std::size_t>(n), ".%03ld",
                  static_cast<long>(time.subseconds().count()));
  }
  return out;
}

inline std::string text(std::optional<std::chrono::local_seconds> t) {
  return t ? text(std::chrono::local_time<std::chrono::milliseconds>{*t}) : "never";
}

inline std::string text(std::optional<Instant> t) {
  if (!t) return "never";
  std::string out = text(std::chrono::local_time<std::chrono::milliseconds>{t->time_since_epoch()});
  out[10] = 'T';
  return out + "Z";
}

inline std::vector<std::string> texts(const std::vector<Instant>& ts) {
  std::vector<std::string> out;
  for (Instant t : ts)
    out.push_back(text(std::optional<Instant>{t}));
  return out;
}

// The wall-clock time of t in zone, with its offset: "2026-03-29 03:00:00 +02:00".
inline std::string wall(const TimeZone& zone, std::optional<Instant> t) {
  if (!t) return "never";
  using namespace std::chrono;
  const seconds offset = zone.segment_at(floor<seconds>(*t)).offset;
  const local_time<milliseconds> local{t->time_since_epoch() + offset};
  const long minutes_east = static_cast<long>(offset.count() / 60);
  const long magnitude = minutes_east < 0 ? -minutes_east : minutes_east;
  char suffix[48];
  std::snprintf(suffix, sizeof suffix, " %c%02ld:%02ld", minutes_east < 0 ? '-' : '+',
                magnitude / 60, magnitude % 60);
  return text(local) + suffix;
}

}  // namespace schedule_test
