// A raw TCP client for HTTP tests: sends exactly the bytes a test writes (slow, malformed,
// pipelined, oversized) and reads responses as they come, with deadlines. Single-threaded.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class RawClient {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL, 0) | O_NONBLOCK);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }

  bool connected() const { return connected_; }
  int fd() const { return fd_; }

  // Sends all of `data` (waiting up to `timeout` for room); false if the connection failed.
  bool send(std::string_view data, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = Clock::now() + timeout;
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<std::size_t>(n));
        sent_ += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
      if (!wait_for(POLLOUT, deadline)) return false;
    }
    return true;
  }
  // Sends what fits now without waiting; the count of bytes sent (-1 if the connection failed).
  ssize_t send_some(std::string_view data) {
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) sent_ += static_cast<std::size_t>(n);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    return n;
  }
  std::size_t bytes_sent() const { return sent_; }

  // Reads whatever has arrived, without waiting; false once the peer closed or reset.
  bool pump() {
    char buf[16384];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) {
        in_.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0) {
        eof_ = true;
        return false;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      if (errno == EINTR) continue;
      eof_ = true;
      return false;
    }
  }

  // The next complete response (Content-Length or chunked framing, or up to the close), or
  // nullopt if none arrived within `timeout`.
  std::optional<RawResponse> read_response(
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (std::optional<RawResponse> r = parse()) return r;
      if (eof_ || !wait_for(POLLIN, deadline)) return std::nullopt;
      pump();
    }
  }

  // True once the server has closed (or reset) the connection, within `timeout`.
  bool closed_within(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!eof_) {
      if (!wait_for(POLLIN, deadline)) return false;
      pump();
    }
    return true;
  }
  bool closed() const { return eof_; }

 private:
  bool wait_for(short events, Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_, events, 0};
    return ::poll(&p, 1, static_cast<int>(left)) > 0;
  }

  std::optional<RawResponse> parse() {
    const std::size_t end = in_.find("\r\n\r\n");
    if (end == std::string::npos) return std::nullopt;
    RawResponse r;
    const std::string head = in_.substr(0, end);
    std::size_t line_end = head.find("\r\n");
    const std::string status_line = head.substr(0, line_end);
    if (status_line.size() < 12) return std::nullopt;
    r.status = std::stoi(status_line.substr(9, 3));
    while (line_end != std::string::npos && line_end < head.size()) {
      const std::size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string line = head.substr(start, line_end - start);
      const std::size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      r.headers[name] = value;
    }
    const std::size_t body_start = end + 4;
    if (r.headers.count("content-length") != 0) {
      const std::size_t length = std::stoul(r.headers["content-length"]);
      if (in_.size() < body_start + length) return std::nullopt;
      r.body = in_.substr(body_start, length);
      in_.erase(0, body_start + length);
      return r;
    }
    if (r.header("transfer-encoding") == "chunked") {
      std::size_t pos = body_start;
      std::string body;
      for (;;) {
        const std::size_t crlf = in_.find("\r\n", pos);
        if (crlf == std::string::npos) return std::nullopt;
        const std::size_t size = std::stoul(in_.substr(pos, crlf - pos), nullptr, 16);
        if (in_.size() < crlf + 2 + size + 2) return std::nullopt;
        body += in_.substr(crlf + 2, size);
        pos = crlf + 2 + size + 2;
        if (size == 0) break;
      }
      r.body = body;
      in_.erase(0, pos);
      return r;
    }
    if (!eof_) return std::nullopt;  // delimited by the close
    r.body = in_.substr(body_start);
    in_.clear();
    return r;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string in_;
  std::size_t sent_ = 0;
};

// "GET path HTTP/1.1" with a Host header and `extra` header lines (each ending in CRLF).
inline std::string get_request(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "\r\n";
}
