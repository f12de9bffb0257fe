// Text that came from the daemon (task names, error messages, results), made safe to show on a
// terminal: anyone who can submit a task chooses its name, and an escape sequence in it must not
// reach the user's terminal as a command.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace uasyncd::cli {

// `text` with every control character (C0, DEL, C1, and an invalid UTF-8 byte) replaced by '?'.
// Tabs and newlines too: the result is one line.
std::string printable(std::string_view text);

// How many terminal columns `text` (UTF-8, printable) takes: one per code point. (Wide CJK
// characters take two on most terminals; tables may then be off by a column, never broken.)
std::size_t display_width(std::string_view text);

// `text` cut to at most `width` columns, ending with "…" when cut.
std::string truncate_to_width(std::string_view text, std::size_t width);

}  // namespace uasyncd::cli
