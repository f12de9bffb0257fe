// next_fire of a cron expression in a time zone: ordinary days, the wall-clock times that
// daylight-saving changes skip and repeat (docs/schedules.md), zones whose change skips
// midnight or a whole day, and the ends of the calendar.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "instant_text.hpp"
#include "parsed_check.hpp"
#include "uasyncd/schedule/cron_calendar.hpp"
#include "uasyncd/schedule/cron_schedule.hpp"

namespace sch = uasyncd::schedule;
using namespace std::chrono_literals;
using schedule_test::text;
using schedule_test::utc;
using schedule_test::wall;

namespace {

sch::CronSchedule schedule(const std::string& cron, const std::string& zone) {
  return {schedule_test::accepted(sch::parse_cron(cron), cron),
          schedule_test::accepted(sch::find_time_zone(zone), zone)};
}

// The fires strictly after `after` and up to `until` (at most 500).
std::vector<sch::Instant> fires(const sch::CronSchedule& s, sch::Instant after,
                                sch::Instant until) {
  std::vector<sch::Instant> out;
  for (std::optional<sch::Instant> fire = sch::next_fire(s, after);
       fire && *fire <= until && out.size() < 500; fire = sch::next_fire(s, *fire)) {
    out.push_back(*fire);
  }
  return out;
}

// The fires strictly after `after` and up to `until`, on the zone's wall clock.
std::vector<std::string> walls(const std::string& cron, const std::string& zone,
                               const std::string& after, const std::string& until) {
  const sch::CronSchedule s = schedule(cron, zone);
  std::vector<std::string> out;
  for (sch::Instant fire : fires(s, utc(after), utc(until)))
    out.push_back(wall(s.zone, fire));
  return out;
}

// The same in UTC.
std::vector<std::string> utcs(const std::string& cron, const std::string& zone,
                              const std::string& after, const std::string& until) {
  return schedule_test::texts(fires(schedule(cron, zone), utc(after), utc(until)));
}

using Texts = std::vector<std::string>;

}  // namespace

TEST(CronSchedule, UtcIsTheWallClock) {
  EXPECT_EQ(utcs("0 3 * * *", "UTC", "2026-05-01T00:00:00Z", "2026-05-03T00:00:00Z"),
            (Texts{"2026-05-01T03:00:00Z", "2026-05-02T03:00:00Z"}));
}

TEST(CronSchedule, FiresStrictlyAfterOnWholeSeconds) {
  const sch::CronSchedule s = schedule("*/7 * * * * *", "Europe/Berlin");
  EXPECT_EQ(text(sch::next_fire(s, utc("2026-05-01T10:00:06.999Z"))), "2026-05-01T10:00:07Z");
  EXPECT_EQ(text(sch::next_fire(s, utc("2026-05-01T10:00:07Z"))), "2026-05-01T10:00:14Z");
  EXPECT_EQ(text(sch::next_fire(s, utc("2026-05-01T10:00:07.001Z"))), "2026-05-01T10:00:14Z");
  EXPECT_EQ(text(sch::next_fire(s, utc("2026-05-01T10:00:56Z"))), "2026-05-01T10:01:00Z");
}

TEST(CronSchedule, BerlinOffsetsOnOrdinaryDays) {
  EXPECT_EQ(utcs("0 3 * * *", "Europe/Berlin", "2026-01-10T00:00:00Z", "2026-01-11T00:00:00Z"),
            (Texts{"2026-01-10T02:00:00Z"}));
  EXPECT_EQ(utcs("0 3 * * *", "Europe/Berlin", "2026-07-10T00:00:00Z", "2026-07-11T00:00:00Z"),
            (Texts{"2026-07-10T01:00:00Z"}));
}

TEST(CronSchedule, SkippedTimeFiresOnceAtTheEndOfTheGap) {
  // 2026-03-29, Europe/Berlin: 02:00 CET becomes 03:00 CEST; 02:30 does not exist that day.
  EXPECT_EQ(walls("30 2 * * *", "Europe/Berlin", "2026-03-27T12:00:00Z", "2026-03-31T12:00:00Z"),
            (Texts{"2026-03-28 02:30:00 +01:00", "2026-03-29 03:00:00 +02:00",
                   "2026-03-30 02:30:00 +02:00", "2026-03-31 02:30:00 +02:00"}));
  EXPECT_EQ(utcs("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-30T12:00:00Z"),
            (Texts{"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}));
  // The six-field form is the same schedule.
  EXPECT_EQ(utcs("0 30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-30T12:00:00Z"),
            (Texts{"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}));
}

TEST(CronSchedule, SkippedFireIsNotRepeatedOnceItFired) {
  const sch::CronSchedule s = schedule("30 2 * * *", "Europe/Berlin");
  EXPECT_EQ(text(sch::next_fire(s, utc("2026-03-29T00:59:59.999Z"))), "2026-03-29T01:00:00Z");
  EXPECT_EQ(text(sch::next_fire(s, utc("2026-03-29T01:00:00Z"))), "2026-03-30T00:30:00Z");
  EXPECT_EQ(text(sch::next_fire(s, utc("2026-03-29T01:20:00Z"))), "2026-03-30T00:30:00Z");
}

TEST(CronSchedule, SeveralSkippedTimesFireOnceTogether) {
  EXPECT_EQ(
      walls("0,15,30,45 2 * * *", "Europe/Berlin", "2026-03-28T23:00:00Z", "2026-03-30T01:00:00Z"),
      (Texts{"2026-03-29 03:00:00 +02:00", "2026-03-30 02:00:00 +02:00",
             "2026-03-30 02:15:00 +02:00", "2026-03-30 02:30:00 +02:00",
             "2026-03-30 02:45:00 +02:00"}));
  // A skipped time and a real one at the end of the gap are one fire.
  EXPECT_EQ(walls("0 2,3 * * *", "Europe/Berlin", "2026-03-28T23:00:00Z", "2026-03-30T01:00:00Z"),
            (Texts{"2026-03-29 03:00:00 +02:00", "2026-03-30 02:00:00 +02:00",
                   "2026-03-30 03:00:00 +02:00"}));
}

TEST(CronSchedule, RepeatedTimeFiresAtTheFirstOccurrenceOnly) {
  // 2026-10-25, Europe/Berlin: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
  EXPECT_EQ(walls("30 2 * * *", "Europe/Berlin", "2026-10-23T12:00:00Z", "2026-10-27T12:00:00Z"),
            (Texts{"2026-10-24 02:30:00 +02:00", "2026-10-25 02:30:00 +02:00",
                   "2026-10-26 02:30:00 +01:00", "2026-10-27 02:30:00 +01:00"}));
  EXPECT_EQ(utcs("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", "2026-10-26T12:00:00Z"),
            (Texts{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}));
  // Asked from within the repeated hour, after the first 02:30: the next day.
  const sch::CronSchedule s = schedule("30 2 * * *", "Europe/Berlin");
  EXPECT_EQ(text(sch::next_fire(s, utc("2026-10-25T00:45:00Z"))), "2026-10-26T01:30:00Z");
  EXPECT_EQ(text(sch::next_fire(s, utc("2026-10-25T01:10:00Z"))), "2026-10-26T01:30:00Z");
}

TEST(CronSchedule, IntervalLikeScheduleSkipsNothingAndDoublesNothingInUtc) {
  // Every 15 minutes across both changes of 2026: each UTC quarter hour exactly once.
  for (const char* day : {"2026-03-28T22:00:00Z", "2026-10-24T22:00:00Z"}) {
    const sch::CronSchedule s = schedule("*/15 * * * *", "Europe/Berlin");
    sch::Instant expected = utc(day) + 15min;
    std::optional<sch::Instant> fire = sch::next_fire(s, utc(day));
    for (int i = 0; i < 6 * 4; ++i) {
      ASSERT_EQ(text(fire), text(std::optional(expected))) << day << " fire " << i;
      fire = sch::next_fire(s, *fire);
      expected += 15min;
    }
  }
  EXPECT_EQ(walls("*/15 * * * *", "Europe/Berlin", "2026-03-29T00:30:00Z", "2026-03-29T01:15:00Z"),
            (Texts{"2026-03-29 01:45:00 +01:00", "2026-03-29 03:00:00 +02:00",
                   "2026-03-29 03:15:00 +02:00"}));
  EXPECT_EQ(walls("*/15 * * * *", "Europe/Berlin", "2026-10-25T00:30:00Z", "2026-10-25T01:15:00Z"),
            (Texts{"2026-10-25 02:45:00 +02:00", "2026-10-25 02:00:00 +01:00",
                   "2026-10-25 02:15:00 +01:00"}));
}

TEST(CronSchedule, HourlyScheduleFiresEveryUtcHourAcrossChanges) {
  EXPECT_EQ(utcs("30 * * * *", "Europe/Berlin", "2026-03-29T00:00:00Z", "2026-03-29T02:59:00Z"),
            (Texts{"2026-03-29T00:30:00Z", "2026-03-29T01:30:00Z", "2026-03-29T02:30:00Z"}));
  EXPECT_EQ(walls("30 * * * *", "Europe/Berlin", "2026-10-24T23:00:00Z", "2026-10-25T02:59:00Z"),
            (Texts{"2026-10-25 01:30:00 +02:00", "2026-10-25 02:30:00 +02:00",
                   "2026-10-25 02:30:00 +01:00", "2026-10-25 03:30:00 +01:00"}));
}

TEST(CronSchedule, EveryMinuteOfTheChangingHour) {
  // Interval-like: the skipped hour has no minutes to fire at; the repeated one fires twice.
  EXPECT_EQ(utcs("* 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-30T00:01:00Z"),
            (Texts{"2026-03-30T00:00:00Z", "2026-03-30T00:01:00Z"}));
  EXPECT_EQ(
      utcs("* 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", "2026-10-25T12:00:00Z").size(),
      120u);
}

TEST(CronSchedule, SantiagoSkipsMidnight) {
  // 2026-09-06, America/Santiago: 00:00 -04 becomes 01:00 -03.
  EXPECT_EQ(walls("30 0 * * *", "America/Santiago", "2026-09-04T12:00:00Z", "2026-09-07T12:00:00Z"),
            (Texts{"2026-09-05 00:30:00 -04:00", "2026-09-06 01:00:00 -03:00",
                   "2026-09-07 00:30:00 -03:00"}));
  EXPECT_EQ(walls("@daily", "America/Santiago", "2026-09-05T12:00:00Z", "2026-09-07T12:00:00Z"),
            (Texts{"2026-09-06 01:00:00 -03:00", "2026-09-07 00:00:00 -03:00"}));
  // 2026-04-05: 00:00 -03 goes back to 23:00 -04 of the 4th; 23:30 fires once, first.
  EXPECT_EQ(utcs("30 23 * * *", "America/Santiago", "2026-04-04T12:00:00Z", "2026-04-06T12:00:00Z"),
            (Texts{"2026-04-05T02:30:00Z", "2026-04-06T03:30:00Z"}));
}

TEST(CronSchedule, BeirutSkipsMidnight) {
  // 2026-03-29, Asia/Beirut: 00:00 EET becomes 01:00 EEST.
  EXPECT_EQ(walls("30 0 * * *", "Asia/Beirut", "2026-03-27T12:00:00Z", "2026-03-30T12:00:00Z"),
            (Texts{"2026-03-28 00:30:00 +02:00", "2026-03-29 01:00:00 +03:00",
                   "2026-03-30 00:30:00 +03:00"}));
  EXPECT_EQ(
      text(sch::next_fire(schedule("30 0 * * *", "Asia/Beirut"), utc("2026-03-28T12:00:00Z"))),
      "2026-03-28T22:00:00Z");
}

TEST(CronSchedule, HalfHourChangeOfLordHowe) {
  // 2026-10-04, Australia/Lord_Howe: 02:00 +10:30 becomes 02:30 +11:00.
  EXPECT_EQ(
      walls("15 2 * * *", "Australia/Lord_Howe", "2026-10-02T12:00:00Z", "2026-10-04T23:59:00Z"),
      (Texts{"2026-10-03 02:15:00 +10:30", "2026-10-04 02:30:00 +11:00",
             "2026-10-05 02:15:00 +11:00"}));
  // 2026-04-05: 02:00 +11:00 goes back to 01:30 +10:30; 01:45 fires once, first.
  EXPECT_EQ(
      utcs("45 1 * * *", "Australia/Lord_Howe", "2026-04-04T00:00:00Z", "2026-04-05T23:59:00Z"),
      (Texts{"2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"}));
}

TEST(CronSchedule, ADaySkippedWholeFiresOnceAfterIt) {
  // Pacific/Apia moved across the date line: 2011-12-30 did not happen there.
  EXPECT_EQ(walls("0 12 * * *", "Pacific/Apia", "2011-12-28T23:00:00Z", "2011-12-31T12:00:00Z"),
            (Texts{"2011-12-29 12:00:00 -10:00", "2011-12-31 00:00:00 +14:00",
                   "2011-12-31 12:00:00 +14:00"}));
}

TEST(CronSchedule, DaylightSavingRulesGoOnAfter2037) {
  EXPECT_EQ(walls("30 2 * * *", "Europe/Berlin", "2040-03-24T00:00:00Z", "2040-03-26T12:00:00Z"),
            (Texts{"2040-03-24 02:30:00 +01:00", "2040-03-25 03:00:00 +02:00",
                   "2040-03-26 02:30:00 +02:00"}));
  EXPECT_EQ(utcs("30 2 * * *", "Europe/Berlin", "2040-10-27T12:00:00Z", "2040-10-29T12:00:00Z"),
            (Texts{"2040-10-28T00:30:00Z", "2040-10-29T01:30:00Z"}));
}

TEST(CronSchedule, RareSchedulesAreFoundAcrossManyChanges) {
  // February 29th on a Sunday, in a zone with two changes a year: 2088, then 2128.
  EXPECT_EQ(walls("0 12 29 2 */7", "Europe/Berlin", "2060-03-01T00:00:00Z", "2200-01-01T00:00:00Z"),
            (Texts{"2088-02-29 12:00:00 +01:00", "2128-02-29 12:00:00 +01:00",
                   "2156-02-29 12:00:00 +01:00", "2184-02-29 12:00:00 +01:00"}));
}

TEST(CronSchedule, NeverFiresPastTheYear9999) {
  EXPECT_EQ(
      text(sch::next_fire(schedule("0 0 29 2 *", "Europe/Berlin"), utc("9996-03-01T00:00:00Z"))),
      "never");
  EXPECT_EQ(text(sch::next_fire(schedule("* * * * * *", "UTC"), utc("9999-12-31T23:59:58Z"))),
            "9999-12-31T23:59:59Z");
  EXPECT_EQ(text(sch::next_fire(schedule("* * * * * *", "UTC"), utc("9999-12-31T23:59:59Z"))),
            "never");
  EXPECT_EQ(text(sch::next_fire(schedule("* * * * * *", "Asia/Tokyo"),
                                sch::Instant{sch::Instant::duration::max()})),
            "never");
  // Before the year 1, the search starts at 0001-01-01.
  EXPECT_EQ(text(sch::next_fire(schedule("0 0 1 1 *", "UTC"),
                                sch::Instant{sch::Instant::duration::min()})),
            "0001-01-01T00:00:00Z");
}

// The rules once more, written per UTC minute instead of per zone segment: a minute fires if
// its wall-clock time matches and (for fixed-time expressions) is that time's first occurrence,
// or if it ends a gap that held a match (fixed-time expressions only). next_fire must give the
// same fires around every 2026 change of several zones.
TEST(CronSchedule, AgreesWithAMinuteByMinuteReadingOfTheRules) {
  using namespace std::chrono;
  const std::vector<std::string> zones{"Europe/Berlin",    "America/Santiago",
                                       "Asia/Beirut",      "Australia/Lord_Howe",
                                       "America/New_York", "Australia/Sydney"};
  const std::vector<std::string> expressions{
      "30 2 * * *", "*/15 * * * *", "0,30 1-3 * * *", "* 2 * * *",  "30 0 * * *",
      "0 0 * * *",  "15 * * * *",   "45 1 * * *",     "0 23 * * *", "*/20 0-3 * * *"};
  int compared = 0;
  for (const std::string& zone_name : zones) {
    const sch::TimeZone zone = *sch::find_time_zone(zone_name).value;
    auto wall_at = [&](sys_seconds u) {
      return local_seconds{(u + zone.segment_at(u).offset).time_since_epoch()};
    };
    std::vector<sys_seconds> changes;
    for (sys_seconds u = floor<seconds>(utc("2026-01-01T00:00:00Z"));
         u < floor<seconds>(utc("2027-01-01T00:00:00Z"));) {
      u = zone.segment_at(u).end;
      changes.push_back(u);
    }
    ASSERT_GE(changes.size(), 3u) << zone_name;
    changes.pop_back();  // the one in 2027
    for (const std::string& expression : expressions) {
      const sch::CronSchedule s = schedule(expression, zone_name);
      for (sys_seconds change : changes) {
        const sys_seconds first = change - 26h;
        const sys_seconds last = change + 26h;
        std::vector<std::string> expected;
        for (sys_seconds u = first + 1min; u <= last; u += 1min) {
          const sch::ZoneSegment segment = zone.segment_at(u);
          const seconds before = zone.segment_at(u - 1s).offset;
          bool fires = false;
          if (u == segment.begin && before < segment.offset && !s.cron.interval_like) {
            for (local_seconds t = local_seconds{(u + before).time_since_epoch()}; t < wall_at(u);
                 t += 1min) {
              fires = fires || sch::cron_matches(s.cron, t);
            }
          }
          const local_seconds wall = wall_at(u);
          if (sch::cron_matches(s.cron, wall)) {
            bool first_occurrence = true;
            for (minutes d{1}; d <= 3h && !s.cron.interval_like; d += 1min) {
              first_occurrence = first_occurrence && wall_at(u - d) != wall;
            }
            fires = fires || first_occurrence;
          }
          if (fires) expected.push_back(text(std::optional(sch::Instant{u})));
        }
        const std::vector<std::string> actual =
            schedule_test::texts(fires(s, sch::Instant{first}, sch::Instant{last}));
        ASSERT_EQ(actual, expected) << expression << " in " << zone_name << " around "
                                    << text(std::optional(sch::Instant{change}));
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 6 * 10 * 2);
}
