// Schedule: the one type for cron-in-a-zone and intervals; make_* refusals name the field;
// next_fires lists what the dashboard shows.
#include <gtest/gtest.h>

#include "instant_text.hpp"
#include "uasyncd/schedule/schedule.hpp"

namespace sch = uasyncd::schedule;
using schedule_test::text;
using schedule_test::texts;
using schedule_test::utc;
using Texts = std::vector<std::string>;

TEST(Schedule, CronInAZone) {
  sch::Parsed<sch::Schedule> s = sch::make_cron_schedule("0 3 * * *", "Europe/Berlin");
  ASSERT_TRUE(s) << s.error.message;
  ASSERT_TRUE(std::holds_alternative<sch::CronSchedule>(*s.value));
  EXPECT_EQ(std::get<sch::CronSchedule>(*s.value).zone.name(), "Europe/Berlin");
  // The next 5 fire times, across the change of 2026-03-29.
  EXPECT_EQ(texts(sch::next_fires(*s.value, utc("2026-03-27T12:00:00Z"), 5)),
            (Texts{"2026-03-28T02:00:00Z", "2026-03-29T01:00:00Z", "2026-03-30T01:00:00Z",
                   "2026-03-31T01:00:00Z", "2026-04-01T01:00:00Z"}));
}

TEST(Schedule, UtcByDefault) {
  sch::Parsed<sch::Schedule> s = sch::make_cron_schedule("0 3 * * *");
  ASSERT_TRUE(s) << s.error.message;
  EXPECT_TRUE(std::get<sch::CronSchedule>(*s.value).zone.is_utc());
  EXPECT_EQ(text(sch::next_fire(*s.value, utc("2026-03-28T12:00:00Z"))), "2026-03-29T03:00:00Z");
}

TEST(Schedule, Interval) {
  sch::Parsed<sch::Schedule> s = sch::make_interval_schedule(30, utc("2026-01-01T00:00:00Z"));
  ASSERT_TRUE(s) << s.error.message;
  EXPECT_EQ(texts(sch::next_fires(*s.value, utc("2026-01-01T00:00:45Z"), 3)),
            (Texts{"2026-01-01T00:01:00Z", "2026-01-01T00:01:30Z", "2026-01-01T00:02:00Z"}));
}

TEST(Schedule, RefusalsNameTheField) {
  sch::Parsed<sch::Schedule> bad_cron = sch::make_cron_schedule("61 * * * *", "Europe/Berlin");
  EXPECT_FALSE(bad_cron);
  EXPECT_EQ(bad_cron.error.field, "cron");
  EXPECT_EQ(bad_cron.error.message, "cron: minute field: 61 is out of range 0-59");
  sch::Parsed<sch::Schedule> bad_zone = sch::make_cron_schedule("0 3 * * *", "Europe/Atlantis");
  EXPECT_FALSE(bad_zone);
  EXPECT_EQ(bad_zone.error.field, "timezone");
  EXPECT_EQ(bad_zone.error.message, "timezone: unknown time zone \"Europe/Atlantis\"");
  // The expression is checked first.
  EXPECT_EQ(sch::make_cron_schedule("", "Europe/Atlantis").error.field, "cron");
  sch::Parsed<sch::Schedule> bad_every =
      sch::make_interval_schedule(0, utc("2026-01-01T00:00:00Z"));
  EXPECT_FALSE(bad_every);
  EXPECT_EQ(bad_every.error.field, "every");
}

TEST(Schedule, NextFiresIsBounded) {
  sch::Parsed<sch::Schedule> s = sch::make_cron_schedule("* * * * * *");
  ASSERT_TRUE(s);
  EXPECT_TRUE(sch::next_fires(*s.value, utc("2026-01-01T00:00:00Z"), 0).empty());
  EXPECT_EQ(sch::next_fires(*s.value, utc("2026-01-01T00:00:00Z"), 1'000'000).size(),
            sch::kMaxNextFires);
  // Fewer when the calendar ends.
  sch::Parsed<sch::Schedule> yearly = sch::make_cron_schedule("@yearly", "Asia/Tokyo");
  ASSERT_TRUE(yearly);
  EXPECT_EQ(texts(sch::next_fires(*yearly.value, utc("9997-06-01T00:00:00Z"), 5)),
            (Texts{"9997-12-31T15:00:00Z", "9998-12-31T15:00:00Z"}));
}
