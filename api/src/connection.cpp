#include "uasyncd/api/connection.hpp"

#include <unistd.h>

namespace uasyncd::api {

Connection::~Connection() {
  if (fd >= 0) ::close(fd);
}

void Connection::compact() {
  if (in_pos == in.size()) {
    in.clear();
    in_pos = 0;
  } else if (in_pos > in.size() / 2) {
    in.erase(0, in_pos);
    in_pos = 0;
  }
}

void Connection::next_request() {
  head_size = 0;
  scanner = HeadScanner();
  compact();
}

std::optional<std::size_t> Connection::find_head() {
  if (!scanner.started()) {
    const std::string_view bytes = unread();
    std::size_t skip = 0;
    while (skip < bytes.size() && (bytes[skip] == '\r' || bytes[skip] == '\n'))
      ++skip;
    consume(skip);
  }
  return scanner.scan(unread());
}

}  // namespace uasyncd::api
