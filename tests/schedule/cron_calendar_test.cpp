// next_cron_match and cron_matches: wall-clock times with no zone. Steps that wrap, month ends,
// leap days, Vixie cron's day-of-month/day-of-week rule, and agreement with a plain scan.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "instant_text.hpp"
#include "parsed_check.hpp"
#include "uasyncd/schedule/cron_calendar.hpp"

namespace sch = uasyncd::schedule;
using schedule_test::local;
using schedule_test::text;

namespace {

sch::CronExpr cron(const std::string& expression) {
  return schedule_test::accepted(sch::parse_cron(expression), expression);
}

// The first `count` matches strictly after `after`, as text.
std::vector<std::string> matches_after(const std::string& expression, const std::string& after,
                                       int count) {
  const sch::CronExpr c = cron(expression);
  std::vector<std::string> out;
  std::chrono::local_seconds t = local(after);
  for (int i = 0; i < count; ++i) {
    std::optional<std::chrono::local_seconds> m =
        sch::next_cron_match(c, t + std::chrono::seconds{1});
    out.push_back(text(m));
    if (!m) break;
    t = *m;
  }
  return out;
}

using Texts = std::vector<std::string>;

}  // namespace

TEST(CronCalendar, MatchAtTheStartIsReturned) {
  EXPECT_EQ(text(sch::next_cron_match(cron("30 2 * * *"), local("2026-05-01 02:30:00"))),
            "2026-05-01 02:30:00");
  EXPECT_EQ(text(sch::next_cron_match(cron("30 2 * * *"), local("2026-05-01 02:30:01"))),
            "2026-05-02 02:30:00");
}

TEST(CronCalendar, SevenSecondStepWrapsAtTheMinute) {
  EXPECT_EQ(matches_after("*/7 * * * * *", "2026-01-01 00:00:50", 11),
            (Texts{"2026-01-01 00:00:56", "2026-01-01 00:01:00", "2026-01-01 00:01:07",
                   "2026-01-01 00:01:14", "2026-01-01 00:01:21", "2026-01-01 00:01:28",
                   "2026-01-01 00:01:35", "2026-01-01 00:01:42", "2026-01-01 00:01:49",
                   "2026-01-01 00:01:56", "2026-01-01 00:02:00"}));
}

TEST(CronCalendar, WrapsThroughMinuteHourDayMonthAndYear) {
  EXPECT_EQ(matches_after("*/7 * * * * *", "2026-12-31 23:59:56", 2),
            (Texts{"2027-01-01 00:00:00", "2027-01-01 00:00:07"}));
  EXPECT_EQ(matches_after("0 0 * * *", "2026-12-31 00:00:00", 1), (Texts{"2027-01-01 00:00:00"}));
}

TEST(CronCalendar, ThirtyFirstSkipsShortMonths) {
  EXPECT_EQ(matches_after("0 0 31 * *", "2026-01-31 00:00:00", 6),
            (Texts{"2026-03-31 00:00:00", "2026-05-31 00:00:00", "2026-07-31 00:00:00",
                   "2026-08-31 00:00:00", "2026-10-31 00:00:00", "2026-12-31 00:00:00"}));
  EXPECT_EQ(matches_after("0 0 30 * *", "2026-01-30 00:00:00", 2),
            (Texts{"2026-03-30 00:00:00", "2026-04-30 00:00:00"}));
}

TEST(CronCalendar, FebruaryTwentyNinthOnlyInLeapYears) {
  EXPECT_EQ(matches_after("0 0 29 2 *", "2026-01-01 00:00:00", 3),
            (Texts{"2028-02-29 00:00:00", "2032-02-29 00:00:00", "2036-02-29 00:00:00"}));
  // 2100 is not a leap year; 2000 was.
  EXPECT_EQ(matches_after("0 0 29 2 *", "2096-03-01 00:00:00", 1), (Texts{"2104-02-29 00:00:00"}));
  EXPECT_EQ(matches_after("0 0 29 2 *", "1996-03-01 00:00:00", 1), (Texts{"2000-02-29 00:00:00"}));
}

TEST(CronCalendar, EitherDayFieldWhenBothAreRestricted) {
  // Fridays, and the 13th whatever its weekday.
  EXPECT_EQ(matches_after("0 0 13 * FRI", "2026-02-01 00:00:00", 5),
            (Texts{"2026-02-06 00:00:00", "2026-02-13 00:00:00", "2026-02-20 00:00:00",
                   "2026-02-27 00:00:00", "2026-03-06 00:00:00"}));
  EXPECT_EQ(matches_after("0 0 1,15 * MON", "2026-02-14 00:00:00", 4),
            (Texts{"2026-02-15 00:00:00", "2026-02-16 00:00:00", "2026-02-23 00:00:00",
                   "2026-03-01 00:00:00"}));
}

TEST(CronCalendar, BothDayFieldsWhenOneStartsWithAStar) {
  // Odd days that are Mondays ("*/2" starts with '*').
  EXPECT_EQ(matches_after("0 0 */2 * MON", "2026-02-01 00:00:00", 4),
            (Texts{"2026-02-09 00:00:00", "2026-02-23 00:00:00", "2026-03-09 00:00:00",
                   "2026-03-23 00:00:00"}));
  // The 13th when it is a Sunday ("*/7" is Sunday, written with '*').
  EXPECT_EQ(matches_after("0 0 13 * */7", "2026-01-01 00:00:00", 3),
            (Texts{"2026-09-13 00:00:00", "2026-12-13 00:00:00", "2027-06-13 00:00:00"}));
}

TEST(CronCalendar, SundayIsZeroAndSeven) {
  const Texts sundays{"2026-03-01 00:00:00", "2026-03-08 00:00:00", "2026-03-15 00:00:00"};
  EXPECT_EQ(matches_after("0 0 * * 0", "2026-02-28 00:00:00", 3), sundays);
  EXPECT_EQ(matches_after("0 0 * * 7", "2026-02-28 00:00:00", 3), sundays);
  EXPECT_EQ(matches_after("0 0 * * SUN", "2026-02-28 00:00:00", 3), sundays);
}

TEST(CronCalendar, NamesMatchLikeNumbers) {
  EXPECT_EQ(matches_after("0 12 * JAN,jul MON-FRI", "2026-01-01 00:00:00", 30),
            matches_after("0 12 * 1,7 1-5", "2026-01-01 00:00:00", 30));
}

TEST(CronCalendar, RareDatesAreFoundDecadesAhead) {
  // February 29th on a Sunday: 2088, then not until 2128 (2100 is no leap year).
  EXPECT_EQ(matches_after("0 0 29 2 */7", "2060-03-01 00:00:00", 2),
            (Texts{"2088-02-29 00:00:00", "2128-02-29 00:00:00"}));
}

TEST(CronCalendar, EndsAtTheEndOfYear9999) {
  EXPECT_EQ(text(sch::next_cron_match(cron("59 23 31 12 *"), local("9999-12-31 00:00:00"))),
            "9999-12-31 23:59:00");
  EXPECT_EQ(text(sch::next_cron_match(cron("0 0 1 1 *"), local("9999-01-01 00:00:01"))), "never");
}

TEST(CronCalendar, GivesUpAfterFourHundredYears) {
  // An expression parse_cron refuses (30 February), built by hand: the search ends.
  sch::CronExpr never = cron("0 0 * * *");
  never.days_of_month = 1u << 30;
  never.months = 1u << 2;
  never.day_of_month_star = false;
  EXPECT_EQ(text(sch::next_cron_match(never, local("2026-01-01 00:00:00"))), "never");
}

TEST(CronCalendar, SearchAgreesWithAScanOfEveryMinute) {
  const std::vector<std::string> expressions{
      "*/15 * * * *",     "0 9-17 * * MON-FRI",   "5,35 */3 * * *", "0 0 13 * FRI",
      "0 0 */2 * MON",    "30 4 1,15 * 5",        "0 0 1 3 *",      "59 23 31 * *",
      "0 12 * FEB,APR *", "10-20/5 1 * * SAT-SUN"};
  const std::chrono::local_seconds start = local("2026-02-25 22:00:00");
  const std::chrono::minutes span{40 * 24 * 60};
  int checked = 0;
  for (const std::string& e : expressions) {
    sch::Parsed<sch::CronExpr> p = sch::parse_cron(e);
    ASSERT_TRUE(p) << e;
    // From a minute of the span, the search gives the first matching minute a scan finds.
    // Asked from every match, the minute before it, and every 7th minute (a quicker suite).
    std::optional<std::chrono::local_seconds> scanned;
    long minute = 0;
    for (auto t = start + span; t >= start; t -= std::chrono::minutes{1}, ++minute) {
      const bool before_match = scanned && *scanned == t + std::chrono::minutes{1};
      if (sch::cron_matches(*p.value, t)) scanned = t;
      if (scanned && (scanned == t || before_match || minute % 7 == 0)) {
        ASSERT_EQ(text(sch::next_cron_match(*p.value, t)), text(scanned))
            << e << " from " << text(std::optional(t));
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 70'000);
}
