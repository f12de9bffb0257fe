#include "uasyncd/api/connection.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>

namespace uasyncd::api {

Connection::~Connection() {
  if (fd >= 0) ::close(fd);
}

ssize_t Connection::receive() {
  // Read into a fixed buffer, then append what came: no zero-filled room in `in`.
  std::array<char, 16 * 1024> buf;
  ssize_t n;
  do {
    n = ::recv(fd, buf.data(), buf.size(), 0);
  } while (n < 0 && errno == EINTR);
  if (n > 0) in.append(buf.data(), static_cast<std::size_t>(n));
  return n;
}

namespace {

// What a connection's buffers keep between requests: a typical request or answer fits; a large
// one's memory goes back once it is done with.
constexpr std::size_t kKeptBufferBytes = 64 * 1024;

void empty_buffer(std::string& buffer) {
  if (buffer.capacity() > kKeptBufferBytes) {
    std::string().swap(buffer);
  } else {
    buffer.clear();
  }
}

}  // namespace

void Connection::output_written() {
  empty_buffer(out);
  out_pos = 0;
}

void Connection::compact() {
  if (in_pos == in.size()) {
    empty_buffer(in);
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
