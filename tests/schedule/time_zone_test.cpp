// find_time_zone and TimeZone::segment_at: names, refusals, offsets and their changes, checked
// against glibc's localtime_r (which reads the same files) for every zone, past 2037 too.
#include <gtest/gtest.h>

#include <time.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "instant_text.hpp"
#include "parsed_check.hpp"
#include "uasyncd/schedule/time_zone.hpp"

namespace sch = uasyncd::schedule;
using namespace std::chrono;
using schedule_test::utc;

namespace {

sch::TimeZone zone(const std::string& name) {
  return schedule_test::accepted(sch::find_time_zone(name), name);
}

std::string refusal(const std::string& name) {
  return schedule_test::refused(sch::find_time_zone(name), name, "timezone");
}

sys_seconds at(const std::string& text) {
  return floor<seconds>(utc(text));
}

std::string segment_text(const sch::ZoneSegment& s) {
  return schedule_test::text(std::optional(sch::Instant{s.begin})) + " .. " +
         schedule_test::text(std::optional(sch::Instant{s.end})) + " " +
         std::to_string(s.offset.count());
}

// glibc's offset of zone `name` at t, read from the same zone files (TZ set per call).
class GlibcZones {
 public:
  GlibcZones() {
    const char* tz = std::getenv("TZ");
    if (tz) saved_ = tz;
    had_tz_ = tz != nullptr;
  }
  ~GlibcZones() {
    if (had_tz_) {
      setenv("TZ", saved_.c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }
  void use(const std::string& name) {
    setenv("TZ", (":" + name).c_str(), 1);
    tzset();
  }
  seconds offset_at(sys_seconds t) const {
    const time_t when = static_cast<time_t>(t.time_since_epoch().count());
    struct tm parts {};
    localtime_r(&when, &parts);
    return seconds{parts.tm_gmtoff};
  }

 private:
  std::string saved_;
  bool had_tz_ = false;
};

std::string footer_of(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() < 2 || data.back() != '\n') return {};
  return data.substr(data.rfind('\n', data.size() - 2) + 1);
}

}  // namespace

TEST(TimeZone, DefaultIsUtc) {
  sch::TimeZone z;
  EXPECT_TRUE(z.is_utc());
  EXPECT_EQ(z.name(), "UTC");
  sch::ZoneSegment s = z.segment_at(at("2026-07-01T00:00:00Z"));
  EXPECT_EQ(s.offset, seconds{0});
  EXPECT_LE(s.begin, sch::kEarliestFire);
  EXPECT_GT(s.end, sch::kLatestFire);
  EXPECT_TRUE(zone("UTC").is_utc());
  EXPECT_TRUE(zone("Etc/UTC").is_utc());
  EXPECT_TRUE(zone("utc").is_utc());
}

TEST(TimeZone, BerlinSegmentsOf2026) {
  sch::TimeZone berlin = zone("Europe/Berlin");
  EXPECT_FALSE(berlin.is_utc());
  EXPECT_EQ(berlin.name(), "Europe/Berlin");
  EXPECT_EQ(segment_text(berlin.segment_at(at("2026-07-01T00:00:00Z"))),
            "2026-03-29T01:00:00Z .. 2026-10-25T01:00:00Z 7200");
  EXPECT_EQ(segment_text(berlin.segment_at(at("2026-10-25T01:00:00Z"))),
            "2026-10-25T01:00:00Z .. 2027-03-28T01:00:00Z 3600");
  EXPECT_EQ(berlin.segment_at(at("2026-03-29T00:59:59Z")).offset, seconds{3600});
}

TEST(TimeZone, DaylightSavingGoesOnAfter2037) {
  // Debian's zone files list transitions up to 2037; the footer rule continues them.
  sch::TimeZone berlin = zone("Europe/Berlin");
  EXPECT_EQ(segment_text(berlin.segment_at(at("2040-07-01T00:00:00Z"))),
            "2040-03-25T01:00:00Z .. 2040-10-28T01:00:00Z 7200");
  EXPECT_EQ(berlin.segment_at(at("2240-01-15T00:00:00Z")).offset, seconds{3600});
  EXPECT_EQ(berlin.segment_at(at("2240-07-15T00:00:00Z")).offset, seconds{7200});
  // Southern hemisphere: summer time spans the new year.
  sch::TimeZone sydney = zone("Australia/Sydney");
  EXPECT_EQ(sydney.segment_at(at("2050-01-15T00:00:00Z")).offset, hours{11});
  EXPECT_EQ(sydney.segment_at(at("2050-07-15T00:00:00Z")).offset, hours{10});
  // The last listed segment is cut at the first transition of the rule.
  EXPECT_EQ(segment_text(berlin.segment_at(at("2037-12-01T00:00:00Z"))),
            "2037-10-25T01:00:00Z .. 2038-03-28T01:00:00Z 3600");
}

TEST(TimeZone, SegmentsAreClampedToTheCalendarSpan) {
  sch::TimeZone berlin = zone("Europe/Berlin");
  sch::ZoneSegment first = berlin.segment_at(sys_seconds::min());
  EXPECT_GE(first.begin, sys_seconds{sys_days{year{0} / 1 / 1}});
  sch::ZoneSegment last = berlin.segment_at(sys_seconds::max());
  EXPECT_LE(last.end, sys_seconds{sys_days{year{10001} / 1 / 1}});
  EXPECT_GT(last.end, sch::kLatestFire);
}

TEST(TimeZone, FixedOffsetZones) {
  // POSIX signs: Etc/GMT+5 is five hours behind UTC.
  EXPECT_EQ(zone("Etc/GMT+5").segment_at(at("2026-07-01T00:00:00Z")).offset, hours{-5});
  EXPECT_EQ(zone("Etc/GMT-14").segment_at(at("2040-07-01T00:00:00Z")).offset, hours{14});
  EXPECT_EQ(zone("Asia/Kolkata").segment_at(at("2050-01-01T00:00:00Z")).offset, minutes{330});
}

TEST(TimeZone, NamesDifferingOnlyInCaseFindTheZone) {
  EXPECT_EQ(zone("europe/berlin").name(), "Europe/Berlin");
  EXPECT_EQ(zone("AMERICA/NEW_YORK").name(), "America/New_York");
}

TEST(TimeZone, TheSameZoneIsTheSameHandle) {
  EXPECT_EQ(zone("Asia/Tokyo"), zone("Asia/Tokyo"));
  EXPECT_EQ(zone("asia/tokyo"), zone("Asia/Tokyo"));
  EXPECT_FALSE(zone("Asia/Tokyo") == zone("Europe/Berlin"));
}

TEST(TimeZone, RefusesUnknownZonesNamingThem) {
  EXPECT_EQ(refusal("Mars/Olympus"), "timezone: unknown time zone \"Mars/Olympus\"");
  EXPECT_EQ(refusal("Europe/Berln"), "timezone: unknown time zone \"Europe/Berln\"");
  // Files of the zone directory that are not zones.
  EXPECT_EQ(refusal("posixrules"), "timezone: unknown time zone \"posixrules\"");
  EXPECT_EQ(refusal("right/Europe/Berlin"), "timezone: unknown time zone \"right/Europe/Berlin\"");
}

TEST(TimeZone, RefusesMalformedNamesWithoutEchoingThem) {
  const std::string shape =
      "timezone: a time zone name is made of letters, digits and / _ - + (e.g. "
      "\"Europe/Berlin\")";
  EXPECT_EQ(refusal("../../etc/passwd"), shape);
  EXPECT_EQ(refusal("/etc/localtime"), shape);
  EXPECT_EQ(refusal("Europe//Berlin"), shape);
  EXPECT_EQ(refusal("Europe/Berlin\n"), shape);
  EXPECT_EQ(refusal("Europe/Berlin\"<script>"), shape);
  EXPECT_EQ(refusal("Europe/Berlin "), shape);
  EXPECT_EQ(refusal(std::string("UTC\0x", 5)), shape);
  EXPECT_EQ(refusal(""), "timezone: the time zone name is empty");
  EXPECT_EQ(refusal(std::string(65, 'A')), "timezone: a time zone name has at most 64 characters");
  EXPECT_EQ(refusal(std::string(64, 'A')),
            std::string("timezone: unknown time zone \"") + std::string(64, 'A') + "\"");
}

TEST(TimeZone, EveryZoneAgreesWithGlibcFrom2026To2044) {
  const std::filesystem::path root = "/usr/share/zoneinfo";
  GlibcZones glibc;
  int zones = 0;
  long checks = 0;
  std::vector<std::string> disagreeing;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    const std::string name = entry.path().lexically_relative(root).string();
    if (!entry.is_regular_file() || name.rfind("posix", 0) == 0 || name.rfind("right", 0) == 0) {
      continue;
    }
    sch::Parsed<sch::TimeZone> z = sch::find_time_zone(name);
    if (!z) continue;  // not a zone (zone.tab, leapseconds, ...)
    ++zones;
    glibc.use(name);
    sys_seconds t = at("2026-01-01T00:00:00Z");
    const sys_seconds end = at("2045-01-01T00:00:00Z");
    bool agrees = true;
    while (t < end && agrees) {
      const sch::ZoneSegment s = z.value->segment_at(t);
      EXPECT_LE(s.begin, t) << name;
      EXPECT_GT(s.end, t) << name;
      // The segment's first and last seconds, and a sample every week between.
      for (sys_seconds probe = t; probe < s.end && probe < end; probe += days{7}) {
        agrees = agrees && glibc.offset_at(probe) == s.offset;
        ++checks;
      }
      if (s.end < end) agrees = agrees && glibc.offset_at(s.end - seconds{1}) == s.offset;
      t = s.end;
    }
    if (!agrees) disagreeing.push_back(name);
  }
  EXPECT_GT(zones, 400);
  EXPECT_GT(checks, 100'000);
  // The only zones that may differ: footer rules with negative transition hours (a version 3
  // extension, e.g. America/Nuuk's "M3.5.0/-1"), which date's POSIX parser refuses: they keep
  // their last listed offset past 2037.
  for (const std::string& name : disagreeing) {
    const std::string footer = footer_of(root / name);
    EXPECT_NE(footer.find("/-"), std::string::npos) << name << " disagrees; footer " << footer;
  }
}
