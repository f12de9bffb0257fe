// parse_cron: every element of the dialect, and a refusal naming the field for every kind of
// bad input.
#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>

#include "parsed_check.hpp"
#include "uasyncd/schedule/cron_expr.hpp"

namespace sch = uasyncd::schedule;

namespace {

std::uint64_t bits(std::initializer_list<int> values) {
  std::uint64_t b = 0;
  for (int v : values)
    b |= std::uint64_t{1} << v;
  return b;
}

std::uint64_t span(int first, int last, int step = 1) {
  std::uint64_t b = 0;
  for (int v = first; v <= last; v += step)
    b |= std::uint64_t{1} << v;
  return b;
}

sch::CronExpr parsed(const std::string& text) {
  return schedule_test::accepted(sch::parse_cron(text), text);
}

std::string refusal(const std::string& text) {
  return schedule_test::refused(sch::parse_cron(text), text, "cron");
}

bool same_fields(const sch::CronExpr& a, const sch::CronExpr& b) {
  return a.seconds == b.seconds && a.minutes == b.minutes && a.hours == b.hours &&
         a.days_of_month == b.days_of_month && a.months == b.months &&
         a.days_of_week == b.days_of_week && a.day_of_month_star == b.day_of_month_star &&
         a.day_of_week_star == b.day_of_week_star && a.interval_like == b.interval_like;
}

}  // namespace

TEST(CronParse, FiveFieldsFireAtSecondZero) {
  sch::CronExpr c = parsed("0 3 * * *");
  EXPECT_EQ(c.seconds, bits({0}));
  EXPECT_EQ(c.minutes, bits({0}));
  EXPECT_EQ(c.hours, bits({3}));
  EXPECT_EQ(c.days_of_month, span(1, 31));
  EXPECT_EQ(c.months, span(1, 12));
  EXPECT_EQ(c.days_of_week, span(0, 6));
  EXPECT_TRUE(c.day_of_month_star);
  EXPECT_TRUE(c.day_of_week_star);
  EXPECT_FALSE(c.interval_like);
}

TEST(CronParse, SixFieldsStartWithTheSecond) {
  sch::CronExpr c = parsed("*/7 5 4 3 2 1");
  EXPECT_EQ(c.seconds, span(0, 59, 7));
  EXPECT_EQ(c.seconds, bits({0, 7, 14, 21, 28, 35, 42, 49, 56}));
  EXPECT_EQ(c.minutes, bits({5}));
  EXPECT_EQ(c.hours, bits({4}));
  EXPECT_EQ(c.days_of_month, bits({3}));
  EXPECT_EQ(c.months, bits({2}));
  EXPECT_EQ(c.days_of_week, bits({1}));
}

TEST(CronParse, StarStepRangeListAndValueStep) {
  EXPECT_EQ(parsed("*/15 * * * *").minutes, bits({0, 15, 30, 45}));
  EXPECT_EQ(parsed("0 9-17 * * *").hours, span(9, 17));
  EXPECT_EQ(parsed("1-10/3 * * * *").minutes, bits({1, 4, 7, 10}));
  EXPECT_EQ(parsed("5/20 * * * *").minutes, bits({5, 25, 45}));
  EXPECT_EQ(parsed("1,5,10-12,50-59/4 * * * *").minutes, bits({1, 5, 10, 11, 12, 50, 54, 58}));
  EXPECT_EQ(parsed("0 0 */10 * *").days_of_month, bits({1, 11, 21, 31}));
  EXPECT_EQ(parsed("0 0 * */5 *").months, bits({1, 6, 11}));
  EXPECT_EQ(parsed("0 */23 * * *").hours, bits({0, 23}));
  EXPECT_EQ(parsed("7 * * * *").minutes, bits({7}));
  EXPECT_EQ(parsed("0 0 1,1,1 * *").days_of_month, bits({1}));
  EXPECT_EQ(parsed("07 * * * *").minutes, bits({7}));  // leading zeros
}

TEST(CronParse, MonthNamesInAnyCase) {
  EXPECT_EQ(parsed("0 0 1 jan,Mar-MAY *").months, bits({1, 3, 4, 5}));
  EXPECT_EQ(parsed("0 0 1 JAN-DEC/3 *").months, bits({1, 4, 7, 10}));
  EXPECT_EQ(parsed("0 0 1 dec *").months, bits({12}));
}

TEST(CronParse, DayNamesAndBothSundays) {
  EXPECT_EQ(parsed("0 0 * * MON-FRI").days_of_week, span(1, 5));
  EXPECT_EQ(parsed("0 0 * * sun").days_of_week, bits({0}));
  EXPECT_EQ(parsed("0 0 * * 7").days_of_week, bits({0}));
  EXPECT_EQ(parsed("0 0 * * 0,7").days_of_week, bits({0}));
  EXPECT_EQ(parsed("0 0 * * 5-7").days_of_week, bits({0, 5, 6}));
  // A range of weekday names may end on Sunday.
  EXPECT_EQ(parsed("0 0 * * FRI-SUN").days_of_week, bits({0, 5, 6}));
  EXPECT_EQ(parsed("0 0 * * Sat,Tue").days_of_week, bits({2, 6}));
  EXPECT_EQ(parsed("0 0 * * */7").days_of_week, bits({0}));
}

TEST(CronParse, DayFieldsRecordWhetherTheyStartWithAStar) {
  sch::CronExpr both = parsed("0 0 13 * FRI");
  EXPECT_FALSE(both.day_of_month_star);
  EXPECT_FALSE(both.day_of_week_star);
  // Vixie cron: "*/2" starts with '*', so the other day field must match too.
  sch::CronExpr stepped = parsed("0 0 */2 * MON");
  EXPECT_TRUE(stepped.day_of_month_star);
  EXPECT_FALSE(stepped.day_of_week_star);
  // "1-31" is every day, but restricted in form.
  EXPECT_FALSE(parsed("0 0 1-31 * *").day_of_month_star);
}

TEST(CronParse, IntervalLikeWhenSecondMinuteOrHourHasAStarOrAStep) {
  EXPECT_TRUE(parsed("*/15 * * * *").interval_like);
  EXPECT_TRUE(parsed("0 * * * *").interval_like);
  EXPECT_TRUE(parsed("* 2 * * *").interval_like);
  EXPECT_TRUE(parsed("0 0-23/2 * * *").interval_like);
  EXPECT_TRUE(parsed("5/20 3 * * *").interval_like);
  EXPECT_TRUE(parsed("*/10 30 2 * * *").interval_like);
  EXPECT_FALSE(parsed("30 2 * * *").interval_like);
  EXPECT_FALSE(parsed("0 30 2 * * *").interval_like);
  EXPECT_FALSE(parsed("0,15,30,45 1-3 */2 * *").interval_like);
}

TEST(CronParse, MacrosAreTheirExpressions) {
  EXPECT_TRUE(same_fields(parsed("@yearly"), parsed("0 0 1 1 *")));
  EXPECT_TRUE(same_fields(parsed("@annually"), parsed("0 0 1 1 *")));
  EXPECT_TRUE(same_fields(parsed("@monthly"), parsed("0 0 1 * *")));
  EXPECT_TRUE(same_fields(parsed("@weekly"), parsed("0 0 * * 0")));
  EXPECT_TRUE(same_fields(parsed("@daily"), parsed("0 0 * * *")));
  EXPECT_TRUE(same_fields(parsed("@midnight"), parsed("0 0 * * *")));
  EXPECT_TRUE(same_fields(parsed("@hourly"), parsed("0 * * * *")));
  EXPECT_TRUE(same_fields(parsed(" @Daily\t"), parsed("0 0 * * *")));
  EXPECT_TRUE(parsed("@hourly").interval_like);
  EXPECT_FALSE(parsed("@daily").interval_like);
}

TEST(CronParse, BlanksAroundAndBetweenFields) {
  EXPECT_TRUE(same_fields(parsed("  0\t3  *   * *\t"), parsed("0 3 * * *")));
}

TEST(CronParse, RefusesOutOfRangeValuesNamingTheField) {
  EXPECT_EQ(refusal("60 * * * * *"), "cron: second field: 60 is out of range 0-59");
  EXPECT_EQ(refusal("61 * * * *"), "cron: minute field: 61 is out of range 0-59");
  EXPECT_EQ(refusal("0 24 * * *"), "cron: hour field: 24 is out of range 0-23");
  EXPECT_EQ(refusal("0 0 0 * *"), "cron: day-of-month field: 0 is out of range 1-31");
  EXPECT_EQ(refusal("0 0 32 * *"), "cron: day-of-month field: 32 is out of range 1-31");
  EXPECT_EQ(refusal("0 0 * 0 *"), "cron: month field: 0 is out of range 1-12");
  EXPECT_EQ(refusal("0 0 * 13 *"), "cron: month field: 13 is out of range 1-12");
  EXPECT_EQ(refusal("0 0 * * 8"), "cron: day-of-week field: 8 is out of range 0-7");
  EXPECT_EQ(refusal("1-60 * * * *"), "cron: minute field: 60 is out of range 0-59");
  EXPECT_EQ(refusal("00060 * * * *"), "cron: minute field: \"00060\" is out of range 0-59");
  EXPECT_EQ(refusal("99999999999999999999 * * * *"),
            "cron: minute field: \"99999999999999999999\" is out of range 0-59");
}

TEST(CronParse, RefusesBadStepsAndRanges) {
  EXPECT_EQ(refusal("*/0 * * * *"), "cron: minute field: step 0 is out of range 1-59");
  EXPECT_EQ(refusal("*/60 * * * *"), "cron: minute field: step 60 is out of range 1-59");
  EXPECT_EQ(refusal("0 */24 * * *"), "cron: hour field: step 24 is out of range 1-23");
  EXPECT_EQ(refusal("*/x * * * *"), "cron: minute field: step \"x\" is not a number");
  EXPECT_EQ(refusal("5-2 * * * *"),
            "cron: minute field: range \"5-2\" goes backwards (5 is after 2)");
  EXPECT_EQ(refusal("0 0 * DEC-JAN *"),
            "cron: month field: range \"DEC-JAN\" goes backwards (12 is after 1)");
  EXPECT_EQ(refusal("0 0 * * SAT-MON"),
            "cron: day-of-week field: range \"SAT-MON\" goes backwards (6 is after 1)");
}

TEST(CronParse, RefusesMalformedItems) {
  const std::string shapes = " is not *, */n, a, a-b, a-b/n or a/n";
  EXPECT_EQ(refusal("*-5 * * * *"), "cron: minute field: \"*-5\"" + shapes);
  EXPECT_EQ(refusal("** * * * *"), "cron: minute field: \"**\"" + shapes);
  EXPECT_EQ(refusal("1-2-3 * * * *"), "cron: minute field: \"1-2-3\"" + shapes);
  EXPECT_EQ(refusal("1/2/3 * * * *"), "cron: minute field: \"1/2/3\"" + shapes);
  EXPECT_EQ(refusal("-5 * * * *"), "cron: minute field: \"-5\"" + shapes);
  EXPECT_EQ(refusal("5- * * * *"), "cron: minute field: \"5-\"" + shapes);
  EXPECT_EQ(refusal("5/ * * * *"), "cron: minute field: \"5/\"" + shapes);
  EXPECT_EQ(refusal("/5 * * * *"), "cron: minute field: \"/5\"" + shapes);
  EXPECT_EQ(refusal("1,,2 * * * *"), "cron: minute field: empty item in the list");
  EXPECT_EQ(refusal("0 1, * * *"), "cron: hour field: empty item in the list");
  EXPECT_EQ(refusal("0 ,1 * * *"), "cron: hour field: empty item in the list");
}

TEST(CronParse, RefusesWordsWhereNumbersOrNamesBelong) {
  EXPECT_EQ(refusal("x * * * *"), "cron: minute field: \"x\" is not a number");
  EXPECT_EQ(refusal("0 MON * * *"), "cron: hour field: \"MON\" is not a number");
  EXPECT_EQ(refusal("0 0 L * *"), "cron: day-of-month field: \"L\" is not a number");
  EXPECT_EQ(refusal("0 0 ? * *"), "cron: day-of-month field: \"?\" is not a number");
  EXPECT_EQ(refusal("5x * * * *"), "cron: minute field: \"5x\" is not a number");
  EXPECT_EQ(refusal("0 0 * FOO *"),
            "cron: month field: \"FOO\" is not a number or a month name (JAN-DEC)");
  EXPECT_EQ(refusal("0 0 * January *"),
            "cron: month field: \"January\" is not a number or a month name (JAN-DEC)");
  EXPECT_EQ(refusal("0 0 * * FUN"),
            "cron: day-of-week field: \"FUN\" is not a number or a day name (SUN-SAT)");
  EXPECT_EQ(refusal("0 0 * * 5#2"),
            "cron: day-of-week field: \"5#2\" is not a number or a day name (SUN-SAT)");
}

TEST(CronParse, RefusesTheWrongNumberOfFields) {
  EXPECT_EQ(refusal("* * * *"),
            "cron: expected 5 fields (minute hour day-of-month month day-of-week) or 6 (a "
            "second field first), found 4");
  EXPECT_EQ(refusal("* * * * * * *"),
            "cron: expected 5 fields (minute hour day-of-month month day-of-week) or 6 (a "
            "second field first), found 7");
  EXPECT_EQ(refusal("*"),
            "cron: expected 5 fields (minute hour day-of-month month day-of-week) or 6 (a "
            "second field first), found 1");
}

TEST(CronParse, RefusesEmptyGarbageAndUnknownMacros) {
  EXPECT_EQ(refusal(""), "cron: the expression is empty");
  EXPECT_EQ(refusal(" \t "), "cron: the expression is empty");
  const std::string macros =
      "cron: unknown macro; use @yearly, @annually, @monthly, @weekly, @daily, @midnight or "
      "@hourly";
  EXPECT_EQ(refusal("@reboot"), macros);
  EXPECT_EQ(refusal("@"), macros);
  EXPECT_EQ(refusal("@daily 5"), macros);
  const std::string ascii = "cron: the expression may hold only printable ASCII characters";
  EXPECT_EQ(refusal("0 0 * * M\xc3\x96N"), ascii);
  EXPECT_EQ(refusal("0 0 * * *\n"), ascii);
  EXPECT_EQ(refusal(std::string("0 0 * * *\0", 10)), ascii);
}

TEST(CronParse, RefusesTooLongExpressionsBeforeReadingThem) {
  // A valid expression of exactly the limit is read.
  std::string minutes = "0";
  while (minutes.size() + 2 + 8 <= sch::kMaxCronLength)
    minutes += ",0";
  std::string at_limit = minutes + " * * * *";
  at_limit += std::string(sch::kMaxCronLength - at_limit.size(), ' ');
  ASSERT_EQ(at_limit.size(), sch::kMaxCronLength);
  EXPECT_EQ(parsed(at_limit).minutes, bits({0}));
  EXPECT_EQ(refusal(at_limit + " "), "cron: the expression is longer than 512 characters");
  EXPECT_EQ(refusal(std::string(100'000, '*')),
            "cron: the expression is longer than 512 characters");
}

TEST(CronParse, QuotesAtMostTheStartOfALongItem) {
  std::string message = refusal(std::string(200, 'x') + " * * * *");
  EXPECT_EQ(message, "cron: minute field: \"xxxxxxxxxxxxxxxxxxxxxxxx...\" is not a number");
}

TEST(CronParse, RefusesExpressionsThatNeverFire) {
  const std::string never =
      "cron: day-of-month field: none of its days exists in the months of the month field, so "
      "the expression would never fire";
  EXPECT_EQ(refusal("0 0 30 2 *"), never);
  EXPECT_EQ(refusal("0 0 30,31 FEB *"), never);
  EXPECT_EQ(refusal("0 0 31 4,6,9,11 *"), never);
  // A '*' day-of-week field leaves the choice to the day-of-month field: still never.
  EXPECT_EQ(refusal("0 0 30 2 */2"), never);
  // These fire: in leap years, in some of the months, or on the weekday (either field matches).
  EXPECT_TRUE(sch::parse_cron("0 0 29 2 *"));
  EXPECT_TRUE(sch::parse_cron("0 0 31 2,3 *"));
  EXPECT_TRUE(sch::parse_cron("0 0 30 2 MON"));
  EXPECT_TRUE(sch::parse_cron("0 0 */30 2 *"));
}
