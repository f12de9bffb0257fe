// Building the one-line error messages of the schedule library.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace uasyncd::schedule::detail {

// The pieces, one after the other. (Instead of `"literal" + std::string`, which g++ 12 at -O3
// warns about falsely: GCC PR 105329.)
inline std::string joined(std::initializer_list<std::string_view> pieces) {
  std::string out;
  for (std::string_view piece : pieces)
    out.append(piece);
  return out;
}

}  // namespace uasyncd::schedule::detail
