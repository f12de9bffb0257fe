#include "supervisor_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>

#include "fd_hygiene.hpp"
#include "keeper_report.hpp"
#include "process_tree.hpp"
#include "step_keeper.hpp"
#include "uasyncd/exec/exec_environment.hpp"
#include "uasyncd/exec/supervisor_protocol.hpp"

extern char** environ;

namespace uasyncd::exec::detail {
namespace {

namespace proto = protocol;
using Clock = std::chrono::steady_clock;

// Keepers get this long to kill and reap their steps at shutdown before they are killed
// themselves (their steps then orphaned to us and swept); the sweep gets the second limit.
constexpr std::chrono::milliseconds kKeeperShutdown{1000};
constexpr std::chrono::milliseconds kFinalSweep{4000};
constexpr int kMaxFdsPerRead = 16;

struct Keeper {
  std::uint64_t id = 0;
  bool finished = false;  // its started-and-exited or spawn_failed report was forwarded
};

class Supervisor {
 public:
  Supervisor(int channel, int lock_fd) : channel_(channel), lock_fd_(lock_fd) {}
  int run();

 private:
  bool setup();
  void read_channel();
  void handle(const proto::Frame& f);
  void spawn(proto::SpawnRequest request, int out_fd, int err_fd);
  void relay(pid_t keeper, int sig);
  void read_reports();
  void reap();
  void sweep_orphans();
  void send(std::string frame);
  void flush();
  void stop() { stopping_ = true; }
  void shutdown();
  bool read_signals();  // false on SIGTERM

  int channel_;
  int lock_fd_;
  int signal_fd_ = -1;
  int report_pipe_[2] = {-1, -1};
  pid_t own_group_ = 0;
  bool stopping_ = false;
  bool orphans_ = false;  // a keeper died without finishing: its orphans are ours to kill
  std::map<std::string, std::string> base_env_;
  proto::FrameReader in_;
  std::deque<int> received_fds_;
  std::string out_;
  std::unordered_map<pid_t, Keeper> keepers_;
  std::unordered_map<std::uint64_t, pid_t> by_id_;
};

bool Supervisor::setup() {
  own_group_ = ::getpgrp();
  ::prctl(PR_SET_NAME, "uasyncd-superv");  // for top and ps -o comm (15 bytes at most)
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  for (int sig : {SIGINT, SIGHUP, SIGQUIT, SIGPIPE})
    ::sigaction(sig, &ignore, nullptr);
  sigset_t signals;
  keeper_signal_set(&signals);
  ::sigprocmask(SIG_BLOCK, &signals, nullptr);
  // Whatever else the daemon left open without close-on-exec is not ours to hold.
  close_fds_except({channel_, lock_fd_});
  set_cloexec(channel_);
  set_nonblocking(channel_);
  if (lock_fd_ >= 0) {
    set_cloexec(lock_fd_);
    // The lock file doubles as the pid file: who to look for if it is still held later.
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, pid.data(), pid.size(), 0) < 0) {
      std::fprintf(stderr, "exec supervisor: cannot write its pid: %s\n", std::strerror(errno));
    }
  }
  signal_fd_ = ::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd_ < 0 || ::pipe2(report_pipe_, O_CLOEXEC) != 0) {
    std::fprintf(stderr, "exec supervisor: %s\n", std::strerror(errno));
    return false;
  }
  set_nonblocking(report_pipe_[0]);
  base_env_ = inherited_environment(environ);
  send(proto::encode(proto::Hello{proto::kVersion, static_cast<std::int32_t>(::getpid())}));
  return true;
}

int Supervisor::run() {
  if (!setup()) return 1;
  while (!stopping_) {
    pollfd fds[3] = {{channel_, static_cast<short>(POLLIN | (out_.empty() ? 0 : POLLOUT)), 0},
                     {report_pipe_[0], POLLIN, 0},
                     {signal_fd_, POLLIN, 0}};
    // Orphans of a keeper that died are swept until none is left (they arrive as their own
    // parents die): look again soon while there are any.
    const int rc = ::poll(fds, 3, orphans_ ? 10 : -1);
    if (rc < 0 && errno != EINTR) break;
    if (fds[2].revents != 0 && !read_signals()) break;
    if (fds[1].revents != 0) read_reports();
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) read_channel();
    if (!stopping_ && (fds[0].revents & POLLOUT)) flush();
    if (orphans_) sweep_orphans();
  }
  shutdown();
  return 0;
}

bool Supervisor::read_signals() {
  bool child = false;
  signalfd_siginfo si{};
  while (::read(signal_fd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
    if (si.ssi_signo == SIGTERM) return false;
    if (si.ssi_signo == SIGCHLD) child = true;
  }
  if (child) reap();
  return true;
}

void Supervisor::read_channel() {
  for (;;) {
    char buf[64 * 1024];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerRead)];
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(channel_, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) stop();
      return;
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        received_fds_.push_back(fd);
      }
    }
    if (n == 0 || (msg.msg_flags & MSG_CTRUNC)) {  // the daemon is gone, or fds were lost
      stop();
      return;
    }
    in_.append(buf, static_cast<std::size_t>(n));
    try {
      while (std::optional<proto::Frame> f = in_.next())
        handle(*f);
    } catch (const proto::ProtocolError& e) {
      std::fprintf(stderr, "exec supervisor: %s: stopping every step\n", e.what());
      stop();
      return;
    }
  }
}

void Supervisor::handle(const proto::Frame& f) {
  switch (f.type) {
    case proto::Type::spawn: {
      proto::SpawnRequest request = proto::decode_spawn(f.payload);
      if (received_fds_.size() < 2) throw proto::ProtocolError("spawn without its two pipes");
      const int out_fd = received_fds_.front();
      received_fds_.pop_front();
      const int err_fd = received_fds_.front();
      received_fds_.pop_front();
      spawn(std::move(request), out_fd, err_fd);
      break;
    }
    case proto::Type::signal: {
      const proto::SignalRequest r = proto::decode_signal(f.payload);
      if (r.sig <= 0 || r.sig >= NSIG) throw proto::ProtocolError("bad signal number");
      if (auto it = by_id_.find(r.id); it != by_id_.end()) relay(it->second, r.sig);
      break;
    }
    case proto::Type::kill_all:
      if (!f.payload.empty()) throw proto::ProtocolError("kill_all with a payload");
      for (const auto& [pid, keeper] : keepers_)
        relay(pid, SIGKILL);
      break;
    default:
      throw proto::ProtocolError("unexpected frame type " +
                                 std::to_string(static_cast<int>(f.type)));
  }
}

void Supervisor::spawn(proto::SpawnRequest request, int out_fd, int err_fd) {
  KeeperSetup setup;
  setup.argv = std::move(request.argv);
  setup.cwd = std::move(request.cwd);
  setup.env = child_environment(base_env_, request.env);
  setup.stdout_fd = out_fd;
  setup.stderr_fd = err_fd;
  setup.report_fd = report_pipe_[1];
  setup.lock_fd = lock_fd_;
  setup.supervisor = ::getpid();
  const pid_t keeper = ::fork();
  if (keeper == 0) run_keeper(setup);
  const int error = errno;
  ::close(out_fd);
  ::close(err_fd);
  if (keeper < 0) {
    send(proto::encode(proto::SpawnFailed{request.id, error}));
    return;
  }
  keepers_[keeper] = Keeper{request.id, false};
  by_id_[request.id] = keeper;
}

// The keeper is our unreaped child, so its pid cannot be anyone else's: the signal reaches it.
void Supervisor::relay(pid_t keeper, int sig) {
  sigval value{};
  value.sival_int = sig;
  ::sigqueue(keeper, SIGRTMIN, value);
}

void Supervisor::read_reports() {
  for (;;) {
    KeeperReport batch[256];
    const ssize_t n = ::read(report_pipe_[0], batch, sizeof batch);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return;
    }
    for (std::size_t i = 0; i < static_cast<std::size_t>(n) / sizeof(KeeperReport); ++i) {
      const KeeperReport& r = batch[i];
      auto it = keepers_.find(r.keeper);
      if (it == keepers_.end()) continue;
      Keeper& k = it->second;
      switch (r.kind) {
        case ReportKind::started:
          send(proto::encode(proto::Started{k.id, r.value}));
          break;
        case ReportKind::spawn_failed:
          k.finished = true;
          send(proto::encode(proto::SpawnFailed{k.id, r.value}));
          break;
        case ReportKind::exited:
          k.finished = true;
          send(proto::encode(proto::Exited{k.id, r.value}));
          break;
      }
    }
  }
}

void Supervisor::reap() {
  // A keeper writes its last report before it exits: read them first, so that a keeper reaped
  // below without a final report really did die without finishing.
  read_reports();
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) return;
    auto it = keepers_.find(pid);
    if (it == keepers_.end()) continue;  // an orphan reparented to us
    if (WIFEXITED(status) && WEXITSTATUS(status) == kExitLeftOrphans) orphans_ = true;
    // It may have written its last report after the read above, then exited.
    if (!it->second.finished) read_reports();
    if (!it->second.finished) {
      // Killed from outside (OOM killer, a stray kill -9): its step's processes are now ours.
      send(proto::encode(proto::Exited{it->second.id, SIGKILL}));
      orphans_ = true;
    }
    by_id_.erase(it->second.id);
    keepers_.erase(it);
  }
}

void Supervisor::sweep_orphans() {
  bool any = false;
  for (pid_t child : own_children()) {
    if (keepers_.count(child) != 0) continue;
    kill_child_and_group(child, own_group_);
    any = true;
  }
  orphans_ = any;
}

void Supervisor::send(std::string frame) {
  if (stopping_) return;
  out_.append(frame);
  flush();
}

void Supervisor::flush() {
  std::size_t sent = 0;
  while (sent < out_.size()) {
    const ssize_t n =
        ::send(channel_, out_.data() + sent, out_.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) stop();  // EPIPE: the daemon is gone
      break;
    }
    sent += static_cast<std::size_t>(n);
  }
  out_.erase(0, sent);
}

void Supervisor::shutdown() {
  stopping_ = true;
  for (int fd : received_fds_)
    ::close(fd);
  received_fds_.clear();
  for (const auto& [pid, keeper] : keepers_)
    relay(pid, SIGKILL);
  const auto deadline = Clock::now() + kKeeperShutdown;
  while (!keepers_.empty() && Clock::now() < deadline) {
    pollfd fds[2] = {{signal_fd_, POLLIN, 0}, {report_pipe_[0], POLLIN, 0}};
    ::poll(fds, 2, 10);
    read_reports();  // keepers block on a full pipe otherwise
    reap();
  }
  // Whatever is left (keepers that did not finish, their steps, orphans) is killed outright.
  kill_all_children(
      own_group_, kFinalSweep, [this](pid_t pid, int) { keepers_.erase(pid); },
      [] { return true; });
}

}  // namespace

int run_supervisor(int channel_fd, int lock_fd) {
  return Supervisor(channel_fd, lock_fd).run();
}

}  // namespace uasyncd::exec::detail
