#include "uasyncd/api/connection_stream.hpp"

#include <poll.h>
#include <sys/select.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace uasyncd::api {
namespace {

// A collected response is sent as it grows past this, so a large body is not copied whole.
constexpr std::size_t kMaxCollected = 64 * 1024;

int poll_ms(std::chrono::steady_clock::duration left) {
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::clamp<std::int64_t>(ms, 0, 60'000));
}

}  // namespace

ConnectionStream::ConnectionStream(Connection& conn, Limits limits, Counters& counters)
    : conn_(conn),
      limits_(limits),
      counters_(counters),
      head_left_(conn.head_size),
      meter_(limits.max_body_bytes) {}

void ConnectionStream::begin_body(Framing framing, std::uint64_t length,
                                  std::uint64_t max_body_bytes) {
  limits_.max_body_bytes = max_body_bytes;
  meter_ = ChunkedMeter(max_body_bytes);
  conn_.consume(head_left_);  // cpp-httplib has read the head to its blank line: nothing left
  head_left_ = 0;
  in_body_ = true;
  framing_ = framing;
  body_left_ = framing == Framing::length ? length : 0;
  body_deadline_ = Clock::now() + limits_.body_timeout;
}

bool ConnectionStream::body_complete() const {
  if (!in_body_) return false;  // the head was refused before its body was known
  switch (framing_) {
    case Framing::none:
      return true;
    case Framing::length:
      return body_left_ == 0;
    case Framing::chunked:
      return meter_.verdict() == ChunkedMeter::Verdict::done;
  }
  return false;
}

void ConnectionStream::refuse(int status, const char* code, std::string message) {
  if (!refusal_) refusal_ = TransportRefusal{status, code, std::move(message)};
  drop_output();  // cpp-httplib's own answer to the failed read is replaced by the refusal
}

ssize_t ConnectionStream::take(char* ptr, std::size_t n) {
  std::memcpy(ptr, conn_.unread().data(), n);
  conn_.consume(n);
  return static_cast<ssize_t>(n);
}

ssize_t ConnectionStream::read(char* ptr, size_t size) {
  if (refusal_) return -1;
  if (!in_body_) {
    const std::size_t n = std::min(size, head_left_);
    head_left_ -= n;
    return take(ptr, n);
  }
  switch (framing_) {
    case Framing::none:
      return 0;  // a request without Content-Length or chunked framing has no body
    case Framing::length: {
      if (body_left_ == 0) return 0;
      if (!fill()) return refusal_ || !eof_ ? -1 : 0;
      const std::size_t n = static_cast<std::size_t>(
          std::min<std::uint64_t>({size, body_left_, conn_.unread().size()}));
      body_left_ -= n;
      counters_.body_bytes += n;
      return take(ptr, n);
    }
    case Framing::chunked: {
      if (meter_.verdict() == ChunkedMeter::Verdict::done) return 0;
      if (!fill()) return refusal_ || !eof_ ? -1 : 0;
      const std::size_t n = std::min(size, conn_.unread().size());
      const std::size_t taken = meter_.feed(conn_.unread().data(), n);
      if (meter_.verdict() == ChunkedMeter::Verdict::too_large) {
        refuse(413, "payload_too_large",
               "the request body exceeds " + std::to_string(limits_.max_body_bytes) + " bytes");
        return -1;
      }
      if (meter_.verdict() == ChunkedMeter::Verdict::malformed) {
        refuse(400, "invalid_request", "the chunked request body is malformed");
        return -1;
      }
      counters_.body_bytes += taken;
      return take(ptr, taken);
    }
  }
  return -1;
}

bool ConnectionStream::fill() {
  if (!conn_.unread().empty()) return true;
  if (eof_) return false;
  // Whatever was written first (a "100 Continue") must reach the client before it sends.
  if (!flush_blocking()) return false;
  conn_.compact();
  for (;;) {
    const Clock::duration left = body_deadline_ - Clock::now();
    if (left <= Clock::duration::zero()) {
      refuse(408, "request_timeout", "the request body did not arrive in time");
      return false;
    }
    pollfd p{conn_.fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, poll_ms(left));
    if (ready < 0 && errno != EINTR) return false;
    if (ready <= 0) continue;
    const ssize_t n = conn_.receive();
    if (n > 0) {
      counters_.bytes_received += static_cast<std::uint64_t>(n);
      return true;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
  }
}

ssize_t ConnectionStream::write(const char* ptr, size_t size) {
  if (mode_ == Output::dropped) return static_cast<ssize_t>(size);
  if (write_failed_) return -1;
  conn_.out.append(ptr, size);
  if (mode_ == Output::streamed) return flush_blocking() ? static_cast<ssize_t>(size) : -1;
  if (conn_.out.size() - conn_.out_pos > kMaxCollected) flush_without_blocking();
  return write_failed_ ? -1 : static_cast<ssize_t>(size);
}

bool ConnectionStream::flush_without_blocking() {
  while (!write_failed_ && conn_.out_pos < conn_.out.size()) {
    const ssize_t n = ::send(conn_.fd, conn_.out.data() + conn_.out_pos,
                             conn_.out.size() - conn_.out_pos, MSG_NOSIGNAL);
    if (n > 0) {
      conn_.out_pos += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return false;
    } else {
      write_failed_ = true;
    }
  }
  if (write_failed_) return false;
  conn_.output_written();
  return true;
}

bool ConnectionStream::flush_blocking() {
  while (!flush_without_blocking()) {
    if (write_failed_) return false;
    pollfd p{conn_.fd, POLLOUT, 0};
    const int ready = ::poll(&p, 1, poll_ms(limits_.write_timeout));
    if (ready == 0 || (ready < 0 && errno != EINTR)) {
      write_failed_ = true;  // the client stopped reading
      return false;
    }
  }
  return true;
}

bool ConnectionStream::is_readable() const {
  return !conn_.unread().empty();
}

bool ConnectionStream::is_writable() const {
  if (write_failed_) return false;
  if (mode_ != Output::streamed) return true;
  // A streamed response (an event stream) may write nothing for many seconds: a client that
  // hung up is seen on its socket at once, not at the next write (its slot would stay taken).
  pollfd p{conn_.fd, POLLRDHUP, 0};
  return !(::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0);
}

void ConnectionStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  ip = conn_.remote_ip;
  port = conn_.remote_port;
}

void ConnectionStream::get_local_ip_and_port(std::string& ip, int& port) const {
  ip = conn_.local_ip;
  port = conn_.local_port;
}

socket_t ConnectionStream::socket() const {
  return conn_.fd < FD_SETSIZE ? conn_.fd : INVALID_SOCKET;
}

}  // namespace uasyncd::api
