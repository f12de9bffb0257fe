// Names in cron expressions and time zones match whatever their case: "JAN", "Mon",
// "europe/berlin". ASCII only: neither holds other letters.
#pragma once

#include <algorithm>
#include <string_view>

namespace uasyncd::schedule::detail {

inline char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool same_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return ascii_lower(x) == ascii_lower(y);
         });
}

}  // namespace uasyncd::schedule::detail
