// Request fields in log lines. A client chooses its method, path and header values, and
// cpp-httplib percent-decodes them: written raw, a "%0a" in a path starts a forged log line and
// an escape sequence moves a terminal's cursor.
#pragma once

#include <string>
#include <string_view>

namespace uasyncd::api {

// `text` with every control character (0x00-0x1f and 0x7f) and the backslash written as \xNN,
// so the result is one line and an escaped byte cannot pass for a literal one. Other bytes
// (UTF-8 included) are kept. Pure; any thread.
std::string escape_for_log(std::string_view text);

}  // namespace uasyncd::api
