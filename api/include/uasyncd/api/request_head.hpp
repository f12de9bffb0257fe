// The head of an HTTP/1.1 request (request line and header lines) as raw bytes, before
// cpp-httplib parses it: where it ends, and header lines taken out of it. Both follow
// cpp-httplib 0.11.4's own reading: a line ends at LF; a header line counts only if it ends with
// CRLF; its name is every byte before the first ':'; the head ends at the first line after the
// request line that is exactly CRLF.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace uasyncd::api {

// Finds the end of a request head in a buffer that grows between calls (the same bytes, then
// more). Each byte is looked at once, however the bytes trickle in. One scanner per head;
// single-threaded.
class HeadScanner {
 public:
  // The head's length (just past its blank line) once it has arrived, else nullopt.
  std::optional<std::size_t> scan(std::string_view buf);
  // Whether any byte was looked at yet.
  bool started() const { return pos_ > 0; }

 private:
  std::size_t pos_ = 0;         // the next byte to look at
  std::size_t line_start_ = 0;  // where the line holding pos_ starts
  bool request_line_seen_ = false;
};

// Removes every header line named `name` (ASCII case-insensitive) from the head occupying
// buf[begin, begin + head_size); returns the head's new size. The rest of `buf` moves up.
std::size_t remove_header_lines(std::string& buf, std::size_t begin, std::size_t head_size,
                                std::string_view name);

// ASCII case-insensitive equality, as HTTP compares header names and tokens.
bool equals_ignoring_case(std::string_view a, std::string_view b);

}  // namespace uasyncd::api
