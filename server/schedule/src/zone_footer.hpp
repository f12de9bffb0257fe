// The rule a zone file states in its footer, a POSIX TZ string such as
// "CET-1CEST,M3.5.0,M10.5.0/3", for the times after the last transition it lists. date/tz reads
// only the listed transitions (its issue 563), so without this, daylight saving would stop after
// 2037 in Debian's files, and at once in "slim" files that list almost none.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "uasyncd/schedule/time_zone.hpp"

namespace uasyncd::schedule::detail {

class FooterRule;

// The footer rule of the TZif file at `path`; nullptr if the file has none (version 1), cannot be
// read, or states a rule that date's POSIX parser refuses (the negative transition hours that
// version 3 files allow, as America/Nuuk's "M3.5.0/-1": such zones keep their last listed
// offset). Any thread.
std::shared_ptr<const FooterRule> read_footer_rule(const std::string& path);

// The rule's segment that holds t, with begin and end in years 0-10001 (time_zone.cpp clamps).
ZoneSegment footer_segment(const FooterRule& rule, std::chrono::sys_seconds t);

}  // namespace uasyncd::schedule::detail
