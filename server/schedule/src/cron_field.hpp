// One field of a cron expression: its grammar and the bit set it stands for. Internal to
// cron_parse.cpp, split out so that each concept reads on its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace uasyncd::schedule::detail {

enum class CronNames { none, months, days };

struct CronFieldSpec {
  const char* name;  // "minute", "day-of-week", ... as error messages say it
  int min;
  int max;
  CronNames names;  // the three-letter names the field also accepts
};

struct CronField {
  std::uint64_t bits = 0;  // bit v: value v, min <= v <= max
  bool star = false;       // written starting with '*' (Vixie's test of an unrestricted field)
  bool stepped = false;    // holds '*' or '/' anywhere: fires at intervals
};

// Parses one field's text (no blanks in it): a comma-separated list of *, */n, a, a-b, a-b/n
// and a/n, a and b numbers or (for months and days) names. On error returns nullopt and sets
// `error` to "<name> field: <what is wrong>".
std::optional<CronField> parse_cron_field(std::string_view text, const CronFieldSpec& spec,
                                          std::string& error);

}  // namespace uasyncd::schedule::detail
