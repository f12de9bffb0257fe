// Durations as people write them on a command line: "30d", "12h", "90m", "45s", "1500ms".
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace uasyncd::server {

// A positive whole number followed by one unit (ms, s, m, h, d); nullopt for anything else,
// including zero, a missing or unknown unit, and values that would overflow.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace uasyncd::server
