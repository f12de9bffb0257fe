// Fuzzes the whole HTTP request handling in process: each input is the raw bytes a client sends
// (one request or several, pipelined: method, path, headers, body) on a fresh connection to the
// daemon's own server (server::Daemon: the same routes, pre-routing checks and transport limits
// as the uasyncd binary), with the loop thread behind it and the memory backend, on 127.0.0.1.
// The fuzzer writes the input, half-closes, and reads what comes back until the server closes
// or a deadline passes. Whatever the input, what comes back must be HTTP/1.1 responses, never a
// 5xx but the documented 501 and 503, never partial (206), never a CORS grant (no origin is
// allowed here); the server must stay up (a periodic /healthz) and nothing may crash or leak.
//
// No --allow-exec: an input cannot start a process. Tasks an input submits (a sleep of an
// hour, say) would pile up over millions of inputs: the daemon is restarted every
// kInputsPerDaemon inputs, and what the stopped one did not free is reported as a leak then.
//
// Time per input: a few milliseconds (the server answers and closes once it has seen the
// half-close; a long-poll is dropped at the hang-up; an event stream is read up to its head),
// and never more than kReadDeadline.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sanitizer/lsan_interface.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "uasyncd/daemon/daemon.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// What one input may cost at most; only a server that hangs takes that long, and the periodic
// health check (with a longer deadline, for a loaded machine) tells that from a slow answer.
constexpr auto kReadDeadline = std::chrono::milliseconds(500);
constexpr auto kHealthDeadline = std::chrono::seconds(5);
constexpr std::size_t kMaxResponseBytes = 4 << 20;
constexpr std::uint64_t kInputsPerDaemon = 5000;
constexpr std::uint64_t kInputsPerHealthCheck = 1000;

std::unique_ptr<uasyncd::server::Daemon> daemon_instance;
std::uint64_t inputs = 0;

[[noreturn]] void fail(const char* what, std::string_view response) {
  std::fprintf(stderr, "http_fuzzer: %s; response (%zu bytes):\n%.*s\n", what, response.size(),
               static_cast<int>(std::min<std::size_t>(response.size(), 2000)), response.data());
  std::abort();
}

void stop_daemon() {
  if (daemon_instance) daemon_instance->stop();
  daemon_instance.reset();
}

void start_daemon() {
  uasyncd::server::DaemonOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.data_dir.clear();  // the memory backend
  o.allow_exec = false;
  o.shutdown_grace = 0.1;
  // Few threads, as a small machine runs the daemon; streams notice a gone client sooner.
  o.http_threads = 4;
  o.max_sse = 4;
  o.sse_keepalive = std::chrono::milliseconds(100);
  o.keep_finished = 1000;
  daemon_instance = std::make_unique<uasyncd::server::Daemon>(o);
  daemon_instance->start();
}

int connect_to_daemon() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket() failed", {});
  // From one of 62,500 loopback addresses in turn: a connection's port stays taken for a minute
  // (TIME_WAIT) and one address has ~28,000 of them, fewer than a minute of inputs.
  static std::uint32_t connections = 0;
  const std::uint32_t n = connections++ % 62500;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_addr.s_addr = htonl((127u << 24) | (1u << 16) | ((n / 250) << 8) | (n % 250 + 1));
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&from), sizeof(from)) != 0) {
    fail("cannot bind a loopback address", std::strerror(errno));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(daemon_instance->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Without blocking: libFuzzer's timer signal would interrupt a blocking connect (EINTR).
  const int error = [&] {
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) return 0;
    if (errno != EINPROGRESS && errno != EINTR) return errno;
    pollfd p{fd, POLLOUT, 0};
    while (::poll(&p, 1, static_cast<int>(kHealthDeadline / std::chrono::milliseconds(1))) < 0) {
      if (errno != EINTR) return errno;
    }
    int so_error = ETIMEDOUT;
    socklen_t len = sizeof(so_error);
    if ((p.revents & POLLOUT) != 0) getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
    return so_error;
  }();
  if (error != 0) fail("cannot connect to the daemon", std::strerror(error));
  return fd;
}

// Closes with a reset: nothing of millions of connections lingers on this side.
void close_hard(int fd) {
  const linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  ::close(fd);
}

// Sends `request`, half-closes, and returns what the server answers until it closes, the
// deadline passes, or an event stream's head has come (a stream does not end by itself).
std::string exchange(std::string_view request, Clock::duration limit = kReadDeadline) {
  const int fd = connect_to_daemon();
  const Clock::time_point deadline = Clock::now() + limit;
  std::string response;
  std::size_t sent = 0;
  bool write_open = true;
  char buffer[16384];
  while (Clock::now() < deadline && response.size() < kMaxResponseBytes) {
    if (write_open && sent == request.size()) {
      ::shutdown(fd, SHUT_WR);
      write_open = false;
    }
    pollfd p{fd, static_cast<short>(POLLIN | (write_open ? POLLOUT : 0)), 0};
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(1, left.count()))) <= 0) continue;
    if (write_open && (p.revents & POLLOUT) != 0) {
      const ssize_t n =
          ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
        if (sent == request.size()) {
          ::shutdown(fd, SHUT_WR);
          write_open = false;
        }
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        write_open = false;  // the server closed (after a refusal): read what it said
      }
    }
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t n = ::recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
      if (n > 0) {
        response.append(buffer, static_cast<std::size_t>(n));
        if (response.find("Content-Type: text/event-stream") != std::string::npos) break;
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        break;
      }
    }
  }
  close_hard(fd);
  return response;
}

bool digit(char c) {
  return c >= '0' && c <= '9';
}

// Every line of `text` that starts a response or a header is checked: a JSON body is one line
// that starts with '{' or '[', and no static file has a line that starts like these.
void check_response(std::string_view text) {
  if (text.empty()) return;  // refused before a response (a reset) or a hang-up seen first
  if (text.substr(0, 9) != "HTTP/1.1 ") fail("not an HTTP/1.1 response", text);
  for (std::size_t at = 0; at < text.size();) {
    std::size_t nl = text.find('\n', at);
    if (nl == std::string_view::npos) nl = text.size();
    const std::string_view line = text.substr(at, nl - at);
    at = nl + 1;
    if (line.substr(0, 9) == "HTTP/1.1 ") {
      if (line.size() < 13) {
        if (at < text.size()) fail("a malformed status line", text);
        continue;  // cut off by the size cap
      }
      const std::string_view status = line.substr(9, 3);
      if (!digit(status[0]) || !digit(status[1]) || !digit(status[2]) || line[12] != ' ') {
        fail("a malformed status line", text);
      }
      if (status[0] == '5' && status != "501" && status != "503") {
        fail("an undocumented 5xx", text);
      }
      if (status == "206") fail("a partial response (Range is to be ignored)", text);
    } else if (line.substr(0, 21) == "Access-Control-Allow-") {
      fail("a CORS grant with no origin allowed", text);
    }
  }
}

void check_health() {
  const std::string r =
      exchange("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", kHealthDeadline);
  if (r.rfind("HTTP/1.1 200 ", 0) != 0) fail("GET /healthz does not answer 200", r);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // libFuzzer's leak check after an input with more allocations than frees: the daemon's
  // threads allocate all the time, so that is nearly every new input, and each check scans the
  // whole heap (most of the run's time). Leaks are checked at every restart instead, and at
  // exit. First, so that a -detect_leaks given on the command line wins.
  static std::vector<char*> args;
  static char no_leak_checks[] = "-detect_leaks=0";
  args.assign(*argv, *argv + *argc);
  args.insert(args.begin() + 1, no_leak_checks);
  args.push_back(nullptr);
  *argc = static_cast<int>(args.size() - 1);
  *argv = args.data();

  std::signal(SIGPIPE, SIG_IGN);  // as serve() does
  spdlog::set_level(spdlog::level::off);
  start_daemon();
  // Before the statics the daemon's threads use are destroyed.
  std::atexit(stop_daemon);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (++inputs % kInputsPerDaemon == 0) {
    stop_daemon();
    // Whatever the stopped daemon did not free is lost now.
    if (__lsan_do_recoverable_leak_check() != 0) fail("the stopped daemon leaked", {});
    start_daemon();
  }
  const std::string response =
      exchange(std::string_view(reinterpret_cast<const char*>(data), size));
  check_response(response);
  if (inputs % kInputsPerHealthCheck == 0) check_health();
  return 0;
}
