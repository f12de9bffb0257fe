// parse_cron: the expression as a whole (length, characters, macros, fields, the day rule);
// each field's grammar is in cron_field.cpp.
#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include "ascii_case.hpp"
#include "cron_field.hpp"
#include "message.hpp"
#include "uasyncd/schedule/cron_expr.hpp"

namespace uasyncd::schedule {
namespace {

using detail::CronField;
using detail::CronFieldSpec;
using detail::CronNames;

constexpr CronFieldSpec kSecond{"second", 0, 59, CronNames::none};
constexpr CronFieldSpec kMinute{"minute", 0, 59, CronNames::none};
constexpr CronFieldSpec kHour{"hour", 0, 23, CronNames::none};
constexpr CronFieldSpec kDayOfMonth{"day-of-month", 1, 31, CronNames::none};
constexpr CronFieldSpec kMonth{"month", 1, 12, CronNames::months};
constexpr CronFieldSpec kDayOfWeek{"day-of-week", 0, 7, CronNames::days};

struct Macro {
  std::string_view name;
  std::string_view fields;  // with the second field
};
constexpr std::array<Macro, 7> kMacros{{{"@yearly", "0 0 0 1 1 *"},
                                        {"@annually", "0 0 0 1 1 *"},
                                        {"@monthly", "0 0 0 1 * *"},
                                        {"@weekly", "0 0 0 * * 0"},
                                        {"@daily", "0 0 0 * * *"},
                                        {"@midnight", "0 0 0 * * *"},
                                        {"@hourly", "0 0 * * * *"}}};

// The longest day each month can have (February: 29, in leap years).
constexpr std::array<int, 13> kLongestMonth{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

Parsed<CronExpr> refuse_cron(std::string message) {
  return {std::nullopt, {"cron", detail::joined({"cron: ", message})}};
}

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && is_blank(text.front()))
    text.remove_prefix(1);
  while (!text.empty() && is_blank(text.back()))
    text.remove_suffix(1);
  return text;
}

std::vector<std::string_view> split_fields(std::string_view text) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_blank(text[i]))
      ++i;
    std::size_t start = i;
    while (i < text.size() && !is_blank(text[i]))
      ++i;
    if (i > start) fields.push_back(text.substr(start, i - start));
  }
  return fields;
}

// Whether any day of the day-of-month field exists in any month of the month field.
bool some_day_exists(std::uint32_t days_of_month, std::uint16_t months) {
  for (int m = 1; m <= 12; ++m) {
    const std::uint64_t month_days = (std::uint64_t{1} << (kLongestMonth[m] + 1)) - 2;
    if ((months >> m & 1) && (days_of_month & month_days)) return true;
  }
  return false;
}

}  // namespace

Parsed<CronExpr> parse_cron(std::string_view text) {
  if (text.size() > kMaxCronLength) {
    return refuse_cron(detail::joined(
        {"the expression is longer than ", std::to_string(kMaxCronLength), " characters"}));
  }
  for (char c : text) {
    if ((c < ' ' || c > '~') && c != '\t') {
      return refuse_cron("the expression may hold only printable ASCII characters");
    }
  }
  text = trimmed(text);
  if (text.empty()) return refuse_cron("the expression is empty");
  if (text.front() == '@') {
    const Macro* macro = nullptr;
    for (const Macro& m : kMacros) {
      if (detail::same_ignoring_case(text, m.name)) macro = &m;
    }
    if (!macro) {
      return refuse_cron(
          "unknown macro; use @yearly, @annually, @monthly, @weekly, @daily, "
          "@midnight or @hourly");
    }
    text = macro->fields;
  }

  std::vector<std::string_view> fields = split_fields(text);
  if (fields.size() != 5 && fields.size() != 6) {
    return refuse_cron(
        detail::joined({"expected 5 fields (minute hour day-of-month month "
                        "day-of-week) or 6 (a second field first), found ",
                        std::to_string(fields.size())}));
  }
  const bool has_seconds = fields.size() == 6;
  const std::array<const CronFieldSpec*, 6> specs{&kSecond,     &kMinute, &kHour,
                                                  &kDayOfMonth, &kMonth,  &kDayOfWeek};
  std::array<CronField, 6> parsed;
  parsed[0] = CronField{1, false, false};  // five fields fire at second 0
  for (std::size_t i = has_seconds ? 0 : 1, f = 0; i < specs.size(); ++i, ++f) {
    std::string error;
    std::optional<CronField> field = detail::parse_cron_field(fields[f], *specs[i], error);
    if (!field) return refuse_cron(std::move(error));
    parsed[i] = *field;
  }

  CronExpr cron;
  cron.seconds = parsed[0].bits;
  cron.minutes = parsed[1].bits;
  cron.hours = static_cast<std::uint32_t>(parsed[2].bits);
  cron.days_of_month = static_cast<std::uint32_t>(parsed[3].bits);
  cron.months = static_cast<std::uint16_t>(parsed[4].bits);
  // 7 is Sunday too.
  std::uint64_t weekdays = parsed[5].bits | (parsed[5].bits >> 7 & 1);
  cron.days_of_week = static_cast<std::uint8_t>(weekdays & 0x7f);
  cron.day_of_month_star = parsed[3].star;
  cron.day_of_week_star = parsed[5].star;
  cron.interval_like = parsed[0].stepped || parsed[1].stepped || parsed[2].stepped;

  // With a restricted day-of-month and a '*' day-of-week, only the day-of-month field picks
  // days: "30 FEB" would never come. (A '*' day-of-month holds the 1st; a restricted
  // day-of-week picks days of its own.)
  if (!cron.day_of_month_star && cron.day_of_week_star &&
      !some_day_exists(cron.days_of_month, cron.months)) {
    return refuse_cron(
        "day-of-month field: none of its days exists in the months of the month "
        "field, so the expression would never fire");
  }
  return {cron, {}};
}

}  // namespace uasyncd::schedule
