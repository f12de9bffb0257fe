// Plain intervals: start + k * period, strictly after the instant asked about; refusals of bad
// "every" values.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "instant_text.hpp"
#include "parsed_check.hpp"
#include "uasyncd/schedule/interval_schedule.hpp"

namespace sch = uasyncd::schedule;
using namespace std::chrono_literals;
using schedule_test::text;
using schedule_test::utc;

namespace {

sch::IntervalSchedule every(double seconds, const char* start) {
  return schedule_test::accepted(sch::make_interval(seconds, utc(start)), std::to_string(seconds));
}

std::string refusal(double seconds, sch::Instant start = utc("2026-01-01T00:00:00Z")) {
  return schedule_test::refused(sch::make_interval(seconds, start), std::to_string(seconds),
                                "every");
}

}  // namespace

TEST(IntervalSchedule, TheStartIsTheFirstFire) {
  const sch::IntervalSchedule s = every(90, "2026-05-01T12:00:00Z");
  EXPECT_EQ(text(sch::next_fire(s, utc("2020-01-01T00:00:00Z"))), "2026-05-01T12:00:00Z");
  EXPECT_EQ(text(sch::next_fire(s, utc("2026-05-01T11:59:59.999Z"))), "2026-05-01T12:00:00Z");
}

TEST(IntervalSchedule, FiresStrictlyAfter) {
  const sch::IntervalSchedule s = every(90, "2026-05-01T12:00:00Z");
  EXPECT_EQ(text(sch::next_fire(s, utc("2026-05-01T12:00:00Z"))), "2026-05-01T12:01:30Z");
  EXPECT_EQ(text(sch::next_fire(s, utc("2026-05-01T12:01:29.999Z"))), "2026-05-01T12:01:30Z");
  EXPECT_EQ(text(sch::next_fire(s, utc("2026-05-01T12:01:30Z"))), "2026-05-01T12:03:00Z");
  // 1,000 periods later, in one step.
  EXPECT_EQ(text(sch::next_fire(s, utc("2026-05-02T12:59:59Z"))), "2026-05-02T13:00:00Z");
}

TEST(IntervalSchedule, FractionsOfASecondRoundToTheMillisecond) {
  EXPECT_EQ(every(0.25, "2026-05-01T12:00:00Z").period, 250ms);
  EXPECT_EQ(every(0.0015, "2026-05-01T12:00:00Z").period, 2ms);
  EXPECT_EQ(every(sch::kMinIntervalSeconds, "2026-05-01T12:00:00Z").period, 1ms);
  const sch::IntervalSchedule s = every(0.25, "2026-05-01T12:00:00Z");
  EXPECT_EQ(text(sch::next_fire(s, utc("2026-05-01T12:00:00.600Z"))), "2026-05-01T12:00:00.750Z");
}

TEST(IntervalSchedule, IgnoresTheWallClock) {
  // No zone: across a daylight-saving change, still every hour of elapsed time.
  const sch::IntervalSchedule s = every(3600, "2026-03-28T23:30:00Z");
  EXPECT_EQ(text(sch::next_fire(s, utc("2026-03-29T00:30:00Z"))), "2026-03-29T01:30:00Z");
}

TEST(IntervalSchedule, RefusesBadPeriods) {
  const std::string message =
      "every: must be a number of seconds from 0.001 to 3155760000 (100 years)";
  EXPECT_EQ(refusal(0), message);
  EXPECT_EQ(refusal(-5), message);
  EXPECT_EQ(refusal(0.0009), message);
  EXPECT_EQ(refusal(3155760001.0), message);
  EXPECT_EQ(refusal(std::numeric_limits<double>::quiet_NaN()), message);
  EXPECT_EQ(refusal(std::numeric_limits<double>::infinity()), message);
  EXPECT_EQ(refusal(-std::numeric_limits<double>::infinity()), message);
  EXPECT_TRUE(sch::make_interval(sch::kMaxIntervalSeconds, utc("2026-01-01T00:00:00Z")));
}

TEST(IntervalSchedule, RefusesStartsOutsideTheCalendar) {
  const std::string message = "every: the start must be in the years 1 to 9999";
  EXPECT_EQ(refusal(60, sch::Instant{sch::Instant::duration::max()}), message);
  EXPECT_EQ(refusal(60, sch::Instant{sch::Instant::duration::min()}), message);
}

TEST(IntervalSchedule, NeverPastTheYear9999) {
  const sch::IntervalSchedule s = every(sch::kMaxIntervalSeconds, "9950-01-01T00:00:00Z");
  EXPECT_EQ(text(sch::next_fire(s, utc("9950-01-01T00:00:00Z"))), "never");
  EXPECT_EQ(text(sch::next_fire(s, sch::Instant{sch::Instant::duration::max()})), "never");
  const sch::IntervalSchedule t = every(1, "2026-01-01T00:00:00Z");
  EXPECT_EQ(text(sch::next_fire(t, utc("9999-12-31T23:59:58Z"))), "9999-12-31T23:59:59Z");
  EXPECT_EQ(text(sch::next_fire(t, utc("9999-12-31T23:59:59Z"))), "never");
}
