// Load generator for bench/run_echo.sh: `conns` connections, each sending one small message and
// waiting for its echo before sending the next (request/response). One thread on epoll, plain
// sockets, so it costs the same whichever server it drives. Prints "RPS <requests per second>".
//
// Usage: echo_client <port> [conns=64] [msg_bytes=64] [seconds=3] [warmup_seconds=0.5]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Conn {
  int fd = -1;
  std::size_t received = 0;  // bytes of the current echo seen so far
};

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("connect");
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

void send_all(int fd, const std::string& msg) {
  // A small message always fits the socket buffer of a connection with nothing in flight.
  if (::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(msg.size())) {
    die("send");
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s port [conns] [msg_bytes] [seconds] [warmup]\n", argv[0]);
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const int conns = argc > 2 ? std::atoi(argv[2]) : 64;
  const std::size_t msg_bytes = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 64;
  const double seconds = argc > 4 ? std::atof(argv[4]) : 3.0;
  const double warmup = argc > 5 ? std::atof(argv[5]) : 0.5;
  const std::string msg(msg_bytes, 'm');

  const int ep = ::epoll_create1(0);
  std::vector<Conn> cs(static_cast<std::size_t>(conns));
  for (int i = 0; i < conns; ++i) {
    cs[i].fd = connect_to(port);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<std::uint32_t>(i);
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev) != 0) die("epoll_ctl");
    send_all(cs[i].fd, msg);
  }

  const auto start = Clock::now();
  const auto measure_from = start + std::chrono::duration<double>(warmup);
  const auto end = measure_from + std::chrono::duration<double>(seconds);
  long long done = 0;
  bool measuring = false;
  std::vector<epoll_event> events(static_cast<std::size_t>(conns));
  std::vector<char> buf(64 * 1024);
  for (;;) {
    const auto now = Clock::now();
    if (now >= end) break;
    if (!measuring && now >= measure_from) {
      measuring = true;
      done = 0;
    }
    const int n = ::epoll_wait(ep, events.data(), conns, 100);
    for (int k = 0; k < n; ++k) {
      Conn& c = cs[events[k].data.u32];
      for (;;) {
        const ssize_t got = ::recv(c.fd, buf.data(), buf.size(), 0);
        if (got > 0) {
          c.received += static_cast<std::size_t>(got);
          if (static_cast<std::size_t>(got) < buf.size()) break;  // drained: skip the EAGAIN call
          continue;
        }
        if (got == 0) {
          std::fprintf(stderr, "server closed a connection\n");
          return 1;
        }
        break;  // EAGAIN
      }
      while (c.received >= msg_bytes) {
        c.received -= msg_bytes;
        ++done;
        send_all(c.fd, msg);
      }
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - measure_from).count();
  std::printf("RPS %.0f\n", static_cast<double>(done) / elapsed);
  for (Conn& c : cs)
    ::close(c.fd);
  ::close(ep);
  return 0;
}
