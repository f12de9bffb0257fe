#include "uasyncd/api/connection_gate.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <system_error>

#include "uasyncd/api/deferred_response.hpp"
#include "uasyncd/api/response_bytes.hpp"

namespace uasyncd::api {
namespace {

constexpr std::uint64_t kListenTag = 0;
constexpr std::uint64_t kWakeTag = 1;
constexpr std::size_t kReadChunk = 16 * 1024;
// How long accepting pauses when the process is out of file descriptors.
constexpr std::chrono::milliseconds kAcceptPause{100};

[[noreturn]] void fail(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

bool would_block() {
  return errno == EAGAIN || errno == EWOULDBLOCK;
}

}  // namespace

ConnectionGate::ConnectionGate(int listen_fd, Limits limits, Hooks hooks)
    : listen_fd_(listen_fd), limits_(limits), hooks_(std::move(hooks)) {
  const int flags = fcntl(listen_fd_, F_GETFL, 0);
  if (flags < 0 || fcntl(listen_fd_, F_SETFL, flags | O_NONBLOCK) < 0) fail("fcntl");
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) fail("epoll_create1");
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) fail("eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenTag;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev) < 0) fail("epoll_ctl");
  ev.data.u64 = kWakeTag;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) < 0) fail("epoll_ctl");
}

ConnectionGate::~ConnectionGate() {
  join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void ConnectionGate::start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "uasyncd-gate");  // as top -H and perf show it
    run();
  });
}

void ConnectionGate::push(Command c) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (joined_) return;  // nobody would run it; the connection closes as it is released
    wake = commands_.empty();
    commands_.push_back(std::move(c));
  }
  if (wake) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof(one));
  }
}

void ConnectionGate::hand_back(ConnectionPtr conn, Connection::Then then) {
  push({Command::Kind::hand_back, std::move(conn), then, nullptr, {}, {}});
}

void ConnectionGate::park(ConnectionPtr conn, std::shared_ptr<DeferredResponse> deferred,
                          Clock::time_point deadline) {
  push({Command::Kind::park,
        std::move(conn),
        Connection::Then::close,
        std::move(deferred),
        deadline,
        {}});
}

void ConnectionGate::answer(ConnectionPtr conn, std::string bytes, bool close) {
  push({Command::Kind::answer,
        std::move(conn),
        close ? Connection::Then::close : Connection::Then::keep_alive,
        nullptr,
        {},
        std::move(bytes)});
}

void ConnectionGate::stop_accepting() {
  push({Command::Kind::stop_accepting, nullptr, Connection::Then::close, nullptr, {}, {}});
}

bool ConnectionGate::wait_drained(Clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return drained_cv_.wait_until(lock, deadline, [this] { return drained_; });
}

void ConnectionGate::close_all() {
  push({Command::Kind::close_all, nullptr, Connection::Then::close, nullptr, {}, {}});
}

void ConnectionGate::join() {
  if (!thread_.joinable()) return;
  push({Command::Kind::quit, nullptr, Connection::Then::close, nullptr, {}, {}});
  thread_.join();
  std::lock_guard lock(mu_);
  joined_ = true;
  commands_.clear();
}

void ConnectionGate::run() {
  std::array<epoll_event, 64> events{};
  while (!quit_) {
    const int n =
        epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), wait_timeout_ms());
    for (int i = 0; i < n; ++i) {
      const std::uint64_t tag = events[static_cast<std::size_t>(i)].data.u64;
      if (tag == kListenTag) {
        accept_all();
      } else if (tag == kWakeTag) {
        std::uint64_t count = 0;
        [[maybe_unused]] const ssize_t r = ::read(wake_fd_, &count, sizeof(count));
      } else {
        on_event(tag, events[static_cast<std::size_t>(i)].events);
      }
    }
    run_commands();
    expire_deadlines();
    if (accept_paused_ && !stopping_ && Clock::now() >= accept_paused_until_) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = kListenTag;
      if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev) == 0) accept_paused_ = false;
    }
    if (stopping_ && connections_.empty()) {
      std::lock_guard lock(mu_);
      if (!drained_) {
        drained_ = true;
        drained_cv_.notify_all();
      }
    }
  }
  // Whatever is left (nothing, after an orderly stop) is closed with the thread.
  std::vector<ConnectionPtr> left;
  for (const auto& [id, c] : connections_)
    left.push_back(c);
  for (const ConnectionPtr& c : left)
    close(c);
}

void ConnectionGate::run_commands() {
  std::vector<Command> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(commands_);
  }
  for (Command& cmd : batch) {
    const ConnectionPtr& c = cmd.conn;
    switch (cmd.kind) {
      case Command::Kind::hand_back:
        if (closing_all_ || c->stage == Connection::Stage::closed) {
          close(c);
          break;
        }
        c->stage = Connection::Stage::writing;
        c->after_write = cmd.then;
        set_deadline(c, Clock::now() + limits_.write_timeout);
        write_out(c);
        break;
      case Command::Kind::park:
        if (closing_all_ || c->stage == Connection::Stage::closed) {
          c->parked = std::move(cmd.deferred);
          close(c);  // abandons it
          break;
        }
        c->stage = Connection::Stage::parked;
        c->parked = std::move(cmd.deferred);
        c->parked_expired = false;
        ++stats_.parked;
        // Stopping: the owner is told at once to answer with what it has.
        set_deadline(c, stopping_ ? Clock::now() : cmd.deadline);
        arm(c, EPOLLRDHUP);
        break;
      case Command::Kind::answer:
        // Gone meanwhile (client left, shutdown): the answer has no reader.
        if (c->stage != Connection::Stage::parked) break;
        c->parked.reset();
        --stats_.parked;
        if (c->out.empty()) {
          c->out = std::move(cmd.bytes);  // a large answer is not copied again
        } else {
          c->out += cmd.bytes;
        }
        c->after_write = cmd.then;
        c->stage = Connection::Stage::writing;
        set_deadline(c, Clock::now() + limits_.write_timeout);
        write_out(c);
        break;
      case Command::Kind::stop_accepting:
        begin_stop();
        break;
      case Command::Kind::close_all:
        close_everything();
        break;
      case Command::Kind::quit:
        quit_ = true;
        break;
    }
  }
}

void ConnectionGate::accept_all() {
  // Bounded, so that a flood of connections does not starve the ones already open.
  for (int i = 0; i < 64 && listen_fd_ >= 0; ++i) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
        accept_paused_ = true;
        accept_paused_until_ = Clock::now() + kAcceptPause;
      }
      return;
    }
    if (connections_.size() >= limits_.max_connections) {
      ::close(fd);
      continue;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto c = std::make_shared<Connection>(fd, next_id_++);
    epoll_event ev{};
    ev.events = EPOLLONESHOT;  // registered disarmed; arm() says what to wait for
    ev.data.u64 = c->id;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) < 0) continue;  // c closes the socket
    connections_.emplace(c->id, c);
    ++stats_.accepted;
    ++stats_.open;
    c->stage = Connection::Stage::reading_head;
    set_deadline(c, Clock::now() + limits_.head_timeout);
    read_head(c);  // a client usually sends its request with the connection
  }
}

void ConnectionGate::on_event(std::uint64_t id, std::uint32_t events) {
  const auto it = connections_.find(id);
  if (it == connections_.end()) return;
  const ConnectionPtr c = it->second;
  switch (c->stage) {
    case Connection::Stage::reading_head:
    case Connection::Stage::idle:
      read_head(c);
      break;
    case Connection::Stage::writing:
      write_out(c);
      break;
    case Connection::Stage::lingering: {
      std::array<char, kReadChunk> scratch;
      const ssize_t n = ::recv(c->fd, scratch.data(), scratch.size(), 0);
      if (n < 0 && (would_block() || errno == EINTR)) {
        arm(c, EPOLLIN | EPOLLRDHUP);
        break;
      }
      if (n <= 0) {
        close(c);
        break;
      }
      stats_.bytes_received += static_cast<std::uint64_t>(n);
      c->discarded += static_cast<std::size_t>(n);
      if (c->discarded > limits_.linger_bytes) {
        close(c);
      } else {
        arm(c, EPOLLIN | EPOLLRDHUP);
      }
      break;
    }
    case Connection::Stage::parked:
      // Only a hang-up is asked for: the client left (or half-closed) while it waited.
      if ((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) close(c);
      break;
    case Connection::Stage::in_worker:
    case Connection::Stage::closed:
      break;  // a hang-up seen while a worker has it: the worker finds out itself
  }
}

void ConnectionGate::read_head(const ConnectionPtr& c) {
  c->compact();
  const ssize_t n = c->receive();
  if (n < 0 && would_block()) {
    arm(c, EPOLLIN | EPOLLRDHUP);
    return;
  }
  if (n <= 0) {
    close(c);  // the client closed (or broke) the connection between requests
    return;
  }
  stats_.bytes_received += static_cast<std::uint64_t>(n);
  if (c->stage == Connection::Stage::idle) {
    c->stage = Connection::Stage::reading_head;
    set_deadline(c, Clock::now() + limits_.head_timeout);
  }
  check_head(c);
}

void ConnectionGate::check_head(const ConnectionPtr& c) {
  const std::optional<std::size_t> end = c->find_head();
  if ((end && *end > limits_.max_head_bytes) ||
      (!end && c->unread().size() > limits_.max_head_bytes)) {
    refuse(
        c, 431, "header_too_large",
        "the request line and headers exceed " + std::to_string(limits_.max_head_bytes) + " bytes");
    return;
  }
  if (!end) {
    if (c->unread().empty()) {
      c->stage = Connection::Stage::idle;  // only empty lines came
      set_deadline(c, Clock::now() + limits_.idle_timeout);
    }
    arm(c, EPOLLIN | EPOLLRDHUP);
    return;
  }
  c->head_size = *end;
  c->head_at = Clock::now();
  c->stage = Connection::Stage::in_worker;
  set_deadline(c, Clock::time_point::max());
  hooks_.dispatch(c);
}

void ConnectionGate::next_request(const ConnectionPtr& c) {
  c->next_request();
  if (!c->unread().empty()) {
    c->stage = Connection::Stage::reading_head;
    set_deadline(c, Clock::now() + limits_.head_timeout);
    check_head(c);
    return;
  }
  c->stage = Connection::Stage::idle;
  set_deadline(c, Clock::now() + limits_.idle_timeout);
  arm(c, EPOLLIN | EPOLLRDHUP);
}

void ConnectionGate::write_out(const ConnectionPtr& c) {
  while (c->out_pos < c->out.size()) {
    const ssize_t n =
        ::send(c->fd, c->out.data() + c->out_pos, c->out.size() - c->out_pos, MSG_NOSIGNAL);
    if (n > 0) {
      c->out_pos += static_cast<std::size_t>(n);
      set_deadline(c, Clock::now() + limits_.write_timeout);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && would_block()) {
      arm(c, EPOLLOUT);
      return;
    }
    close(c);
    return;
  }
  c->output_written();
  after_output(c);
}

void ConnectionGate::after_output(const ConnectionPtr& c) {
  switch (c->after_write) {
    case Connection::Then::close:
      close(c);
      break;
    case Connection::Then::linger:
      linger(c);
      break;
    case Connection::Then::keep_alive:
      if (stopping_) {
        close(c);
      } else {
        next_request(c);
      }
      break;
  }
}

void ConnectionGate::linger(const ConnectionPtr& c) {
  // The client may still be sending what was refused: closing with unread bytes would reset
  // the connection, and the reset can destroy the refusal before the client reads it. So the
  // sending side is closed first, and what still comes is read and dropped for a while.
  ::shutdown(c->fd, SHUT_WR);
  if (stopping_) {
    close(c);
    return;
  }
  c->stage = Connection::Stage::lingering;
  c->discarded = 0;
  set_deadline(c, Clock::now() + limits_.linger_timeout);
  arm(c, EPOLLIN | EPOLLRDHUP);
}

void ConnectionGate::refuse(const ConnectionPtr& c, int status, const char* code,
                            const std::string& message) {
  if (hooks_.refused) hooks_.refused(status, c->unread().substr(0, 8192));
  c->out = error_response_bytes(status, code, message);
  c->out_pos = 0;
  c->after_write = Connection::Then::linger;
  c->stage = Connection::Stage::writing;
  set_deadline(c, Clock::now() + limits_.write_timeout);
  write_out(c);
}

void ConnectionGate::expire_deadlines() {
  const Clock::time_point now = Clock::now();
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const std::uint64_t id = deadlines_.begin()->second;
    const auto it = connections_.find(id);
    if (it == connections_.end()) {
      deadlines_.erase(deadlines_.begin());
      continue;
    }
    const ConnectionPtr c = it->second;
    set_deadline(c, Clock::time_point::max());
    switch (c->stage) {
      case Connection::Stage::reading_head:
        if (c->unread().empty()) {
          close(c);
        } else {
          refuse(c, 408, "request_timeout", "the request head did not arrive in time");
        }
        break;
      case Connection::Stage::parked:
        if (!c->parked_expired) {
          c->parked_expired = true;
          set_deadline(c, now + limits_.answer_grace);
          if (std::function<void()> on_timeout = c->parked->expire()) on_timeout();
        } else {
          close(c);  // its owner did not answer: abandoned
        }
        break;
      case Connection::Stage::idle:
      case Connection::Stage::writing:
      case Connection::Stage::lingering:
        close(c);
        break;
      case Connection::Stage::in_worker:
      case Connection::Stage::closed:
        break;
    }
  }
}

void ConnectionGate::set_deadline(const ConnectionPtr& c, Clock::time_point at) {
  if (c->deadline != Clock::time_point::max()) deadlines_.erase({c->deadline, c->id});
  c->deadline = at;
  if (at != Clock::time_point::max()) deadlines_.insert({at, c->id});
}

void ConnectionGate::arm(const ConnectionPtr& c, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events | EPOLLONESHOT;
  ev.data.u64 = c->id;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c->fd, &ev) < 0) close(c);
}

void ConnectionGate::close(const ConnectionPtr& c) {
  if (c->stage == Connection::Stage::closed) return;
  set_deadline(c, Clock::time_point::max());
  c->stage = Connection::Stage::closed;
  if (c->fd >= 0) {
    ::close(c->fd);  // also takes it out of the epoll set
    c->fd = -1;
  }
  connections_.erase(c->id);
  --stats_.open;
  if (c->parked) {
    std::shared_ptr<DeferredResponse> parked = std::move(c->parked);
    --stats_.parked;
    if (std::function<void()> on_gone = parked->abandon()) on_gone();
  }
}

void ConnectionGate::begin_stop() {
  stopping_ = true;
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
  std::vector<ConnectionPtr> all;
  for (const auto& [id, c] : connections_)
    all.push_back(c);
  const Clock::time_point now = Clock::now();
  for (const ConnectionPtr& c : all) {
    switch (c->stage) {
      case Connection::Stage::reading_head:
      case Connection::Stage::idle:
      case Connection::Stage::lingering:
        close(c);
        break;
      case Connection::Stage::parked:
        if (!c->parked_expired) set_deadline(c, now);
        break;
      case Connection::Stage::writing:
      case Connection::Stage::in_worker:
      case Connection::Stage::closed:
        break;
    }
  }
}

void ConnectionGate::close_everything() {
  closing_all_ = true;
  std::vector<ConnectionPtr> all;
  for (const auto& [id, c] : connections_)
    all.push_back(c);
  for (const ConnectionPtr& c : all) {
    if (c->stage == Connection::Stage::in_worker) {
      // The worker's reads and writes now fail at once; it hands the connection back.
      ::shutdown(c->fd, SHUT_RDWR);
    } else {
      close(c);
    }
  }
}

int ConnectionGate::wait_timeout_ms() const {
  Clock::time_point next = Clock::time_point::max();
  if (!deadlines_.empty()) next = deadlines_.begin()->first;
  if (accept_paused_) next = std::min(next, accept_paused_until_);
  if (next == Clock::time_point::max()) return -1;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now()).count();
  return static_cast<int>(std::clamp<std::int64_t>(left, 0, 60'000));
}

}  // namespace uasyncd::api
