// RFC 3339 date-times ("2026-12-02T06:00:00Z", "2026-12-02T07:00:00.250+01:00"): the "at" of a
// spec. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace uasyncd::server {

// Milliseconds since the Unix epoch of a full RFC 3339 date-time: the date, 'T' (or 't', or one
// space), the time with optional fraction (digits past the millisecond are dropped), and an
// offset ('Z', 'z' or +hh:mm / -hh:mm). Years 0000 to 9999; a leap second (:60) counts as the
// next second. Anything else (a missing offset, a 2026-02-30) is nullopt.
std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text);

}  // namespace uasyncd::server
