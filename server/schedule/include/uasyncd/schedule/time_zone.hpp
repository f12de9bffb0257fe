// Time zones of the system tz database (IANA names such as "Europe/Berlin"), read through
// Howard Hinnant's date/tz (Debian's libhowardhinnant-date-dev) from /usr/share/zoneinfo.
//
// Past the last transition a zone file lists (2037 in Debian's files), the rule in the file's
// footer (e.g. "CET-1CEST,M3.5.0,M10.5.0/3") goes on, so daylight saving does not stop in 2038.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "uasyncd/schedule/schedule_error.hpp"

namespace uasyncd::schedule {

inline constexpr std::size_t kMaxTimeZoneNameLength = 64;

namespace detail {
struct ZoneRules;
}

// A span of UTC time [begin, end) in which a zone's wall clock is UTC + offset.
struct ZoneSegment {
  std::chrono::sys_seconds begin;
  std::chrono::sys_seconds end;
  std::chrono::seconds offset{0};
};

// A handle to a zone's rules. The rules are loaded once per process on first use and never
// freed, so a TimeZone stays valid for the life of the process: copy it freely, use it on any
// thread. A default-constructed TimeZone is UTC.
class TimeZone {
 public:
  TimeZone() = default;

  // The zone's name as the tz database spells it ("UTC" for UTC).
  const std::string& name() const;
  bool is_utc() const { return rules_ == nullptr; }

  // The segment that holds t, its bounds clamped to the years 0-10001 (beyond the span
  // schedules fire in, see instant.hpp). For UTC: one segment over that whole span.
  ZoneSegment segment_at(std::chrono::sys_seconds t) const;

  friend bool operator==(const TimeZone&, const TimeZone&) = default;

 private:
  friend Parsed<TimeZone> find_time_zone(std::string_view name);
  explicit TimeZone(const detail::ZoneRules* rules) : rules_(rules) {}

  const detail::ZoneRules* rules_ = nullptr;
};

// The zone with this IANA name ("UTC" and "Etc/UTC" are UTC; a name that differs from a known
// one only in case is taken as that one). Errors: a name that is empty, too long or not made of
// letters, digits and / _ - +; a name the database does not have ("timezone: unknown time zone
// \"Mars/Olympus\""); a database that cannot be read. Any thread.
Parsed<TimeZone> find_time_zone(std::string_view name);

}  // namespace uasyncd::schedule
