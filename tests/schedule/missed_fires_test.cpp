// missed_fires: the fires between the last one stored and now, counted up to a limit, the
// latest of them, and the next; what the catch-up policies "none" and "one" need.
#include <gtest/gtest.h>

#include "instant_text.hpp"
#include "parsed_check.hpp"
#include "uasyncd/schedule/missed_fires.hpp"

namespace sch = uasyncd::schedule;
using namespace std::chrono_literals;
using schedule_test::text;
using schedule_test::utc;

namespace {

sch::Schedule cron(const char* expression, const char* zone = "UTC") {
  return schedule_test::accepted(sch::make_cron_schedule(expression, zone), expression);
}

}  // namespace

TEST(MissedFires, NoneMissed) {
  sch::MissedFires m = sch::missed_fires(cron("0 * * * *"), utc("2026-05-01T10:00:00Z"),
                                         utc("2026-05-01T10:59:59Z"));
  EXPECT_EQ(m.count, 0u);
  EXPECT_FALSE(m.capped);
  EXPECT_EQ(text(m.latest), "never");
  EXPECT_EQ(text(m.next), "2026-05-01T11:00:00Z");
}

TEST(MissedFires, CountsLatestAndNext) {
  sch::MissedFires m = sch::missed_fires(cron("0 * * * *"), utc("2026-05-01T10:00:00Z"),
                                         utc("2026-05-01T13:30:00Z"));
  EXPECT_EQ(m.count, 3u);  // 11:00, 12:00, 13:00
  EXPECT_FALSE(m.capped);
  EXPECT_EQ(text(m.latest), "2026-05-01T13:00:00Z");
  EXPECT_EQ(text(m.next), "2026-05-01T14:00:00Z");
}

TEST(MissedFires, AFireAtNowIsMissed) {
  sch::MissedFires m = sch::missed_fires(cron("0 * * * *"), utc("2026-05-01T10:00:00Z"),
                                         utc("2026-05-01T13:00:00Z"));
  EXPECT_EQ(m.count, 3u);
  EXPECT_EQ(text(m.latest), "2026-05-01T13:00:00Z");
  EXPECT_EQ(text(m.next), "2026-05-01T14:00:00Z");
}

TEST(MissedFires, AcrossADaylightSavingChange) {
  // 02:30 Berlin: the 28th (CET), the 29th at the end of the gap, the 30th (CEST).
  sch::MissedFires m = sch::missed_fires(cron("30 2 * * *", "Europe/Berlin"),
                                         utc("2026-03-27T01:30:00Z"), utc("2026-03-30T12:00:00Z"));
  EXPECT_EQ(m.count, 3u);
  EXPECT_EQ(text(m.latest), "2026-03-30T00:30:00Z");
  EXPECT_EQ(text(m.next), "2026-03-31T00:30:00Z");
}

TEST(MissedFires, CountStopsAtTheLimitButLatestIsExact) {
  // Every second for a day: 86,400 missed.
  sch::MissedFires m = sch::missed_fires(cron("* * * * * *"), utc("2026-05-01T00:00:00Z"),
                                         utc("2026-05-02T00:00:00.500Z"));
  EXPECT_EQ(m.count, sch::kMaxMissedCount);
  EXPECT_TRUE(m.capped);
  EXPECT_EQ(text(m.latest), "2026-05-02T00:00:00Z");
  EXPECT_EQ(text(m.next), "2026-05-02T00:00:01Z");
}

TEST(MissedFires, LatestIsExactAfterALongQuietTail) {
  // Every minute of January 1st (1,440 fires), then nothing until next year.
  sch::MissedFires m = sch::missed_fires(cron("* * 1 1 *", "Europe/Berlin"),
                                         utc("2025-12-31T00:00:00Z"), utc("2026-06-01T00:00:00Z"));
  EXPECT_TRUE(m.capped);
  EXPECT_EQ(text(m.latest), "2026-01-01T22:59:00Z");  // 23:59 CET
  EXPECT_EQ(text(m.next), "2026-12-31T23:00:00Z");    // 2027-01-01 00:00 CET
}

TEST(MissedFires, ExactlyAtTheLimitIsNotCapped) {
  sch::Parsed<sch::Schedule> every = sch::make_interval_schedule(1, utc("2026-01-01T00:00:00Z"));
  ASSERT_TRUE(every);
  const sch::Instant last = utc("2026-01-01T00:00:00Z");
  sch::MissedFires at_limit =
      sch::missed_fires(*every.value, last, last + std::chrono::seconds{sch::kMaxMissedCount});
  EXPECT_EQ(at_limit.count, sch::kMaxMissedCount);
  EXPECT_FALSE(at_limit.capped);
  sch::MissedFires past =
      sch::missed_fires(*every.value, last, last + std::chrono::seconds{sch::kMaxMissedCount + 1});
  EXPECT_EQ(past.count, sch::kMaxMissedCount);
  EXPECT_TRUE(past.capped);
  EXPECT_EQ(text(past.latest), "2026-01-01T00:16:41Z");
}

TEST(MissedFires, IntervalsCatchUpToo) {
  sch::Parsed<sch::Schedule> every =
      sch::make_interval_schedule(0.001, utc("2026-01-01T00:00:00Z"));
  ASSERT_TRUE(every);
  sch::MissedFires m =
      sch::missed_fires(*every.value, utc("2026-01-01T00:00:00Z"), utc("2026-01-01T05:00:00Z"));
  EXPECT_TRUE(m.capped);
  EXPECT_EQ(text(m.latest), "2026-01-01T05:00:00Z");
  EXPECT_EQ(text(m.next), "2026-01-01T05:00:00.001Z");
}

TEST(MissedFires, ClockThatWentBackFiresNothingTwice) {
  // The last fire is later than now: nothing missed, and the next fire is after the last one.
  sch::MissedFires m = sch::missed_fires(cron("0 * * * *"), utc("2026-05-01T13:00:00Z"),
                                         utc("2026-05-01T10:30:00Z"));
  EXPECT_EQ(m.count, 0u);
  EXPECT_EQ(text(m.latest), "never");
  EXPECT_EQ(text(m.next), "2026-05-01T14:00:00Z");
}

TEST(MissedFires, TheWholeCalendarAtOnce) {
  sch::MissedFires m =
      sch::missed_fires(cron("0 * * * *"), sch::Instant{sch::Instant::duration::min()},
                        sch::Instant{sch::Instant::duration::max()});
  EXPECT_EQ(m.count, sch::kMaxMissedCount);
  EXPECT_TRUE(m.capped);
  EXPECT_EQ(text(m.latest), "9999-12-31T23:00:00Z");
  EXPECT_EQ(text(m.next), "never");
}
