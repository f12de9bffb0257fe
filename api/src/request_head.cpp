#include "uasyncd/api/request_head.hpp"

#include <cstring>

namespace uasyncd::api {

std::optional<std::size_t> HeadScanner::scan(std::string_view buf) {
  while (pos_ < buf.size()) {
    const void* found = std::memchr(buf.data() + pos_, '\n', buf.size() - pos_);
    if (found == nullptr) {
      pos_ = buf.size();
      return std::nullopt;
    }
    const auto lf = static_cast<std::size_t>(static_cast<const char*>(found) - buf.data());
    if (request_line_seen_ && lf == line_start_ + 1 && buf[line_start_] == '\r') return lf + 1;
    request_line_seen_ = true;
    line_start_ = pos_ = lf + 1;
  }
  return std::nullopt;
}

namespace {
unsigned char ascii_lower(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 'A' && u <= 'Z' ? static_cast<unsigned char>(u + ('a' - 'A')) : u;
}
}  // namespace

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

std::size_t remove_header_lines(std::string& buf, std::size_t begin, std::size_t head_size,
                                std::string_view name) {
  std::size_t end = begin + head_size;
  std::size_t line = buf.find('\n', begin);  // the request line is never a header
  if (line == std::string::npos || line >= end) return head_size;
  ++line;
  while (line < end) {
    const std::size_t lf = buf.find('\n', line);
    if (lf == std::string::npos || lf >= end) break;
    const std::size_t next = lf + 1;
    const bool crlf = lf > line && buf[lf - 1] == '\r';
    const std::size_t colon = buf.find(':', line);
    if (crlf && colon < lf &&
        equals_ignoring_case(std::string_view(buf).substr(line, colon - line), name)) {
      buf.erase(line, next - line);
      end -= next - line;
      continue;
    }
    line = next;
  }
  return end - begin;
}

}  // namespace uasyncd::api
