#include "uasyncd/exec/supervisor_client.hpp"

#include <uv.h>
#include <uasyncio/errors.hpp>
#include <uasyncio/event.hpp>
#include <uasyncio/loop.hpp>
#include <uasyncio/os_error.hpp>
#include <uasyncio/queue.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <thread>
#include <unordered_map>
#include <utility>

#include "pipe_stream.hpp"
#include "uasyncd/exec/supervisor_launch.hpp"
#include "uasyncd/exec/supervisor_protocol.hpp"

namespace uasyncd::exec {
namespace detail {

namespace ua = uasyncio;
namespace proto = protocol;

// A supervisor that has not exited this long after its channel closed is killed (its keepers
// still kill their steps: they watch it with PR_SET_PDEATHSIG).
constexpr std::chrono::seconds kSupervisorExitLimit{5};
// How long start() waits for a new supervisor to say hello (a loaded machine, a sanitizer
// build: its start can take a while; a spawn() never waits like this).
constexpr std::chrono::seconds kReadyLimit{10};

struct ExecState {
  std::uint64_t id = 0;
  std::uint64_t generation = 0;  // the supervisor (channel) that runs it
  std::weak_ptr<ClientCore> core;
  int pid = 0;
  bool started = false;
  bool exited = false;
  bool abandoned = false;  // its spawn() was cancelled: kill it as soon as it starts
  bool supervisor_lost = false;
  int spawn_error = 0;  // errno of a start that failed
  int wait_status = 0;
  ua::Event started_event;  // started, failed to start, or lost
  ua::Event exited_event;
  ua::Stream out;
  ua::Stream err;
};

namespace {

ua::ExitStatus to_exit_status(int wait_status) {
  if (WIFSIGNALED(wait_status)) return ua::ExitStatus{0, WTERMSIG(wait_status)};
  return ua::ExitStatus{WEXITSTATUS(wait_status), 0};
}

void check_request(const ExecRequest& r) {
  if (r.argv.empty()) throw std::invalid_argument("exec: empty argv");
  const auto bad = [](const std::string& s) { return s.find('\0') != std::string::npos; };
  for (const std::string& a : r.argv)
    if (bad(a)) throw std::invalid_argument("exec: an argument contains a NUL byte");
  if (bad(r.cwd)) throw std::invalid_argument("exec: cwd contains a NUL byte");
  for (const auto& [name, value] : r.env) {
    if (name.empty() || name.find('=') != std::string::npos || bad(name) || bad(value)) {
      throw std::invalid_argument("exec: bad environment variable '" + name + "'");
    }
  }
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

thread_local SupervisorClient* this_thread_client = nullptr;

}  // namespace

class ClientCore {
 public:
  explicit ClientCore(SupervisorOptions options)
      : options_(std::move(options)), loop_(ua::get_event_loop().uv_loop()) {
    for (std::size_t i = 0; i < std::max<std::size_t>(options_.max_pending_spawns, 1); ++i)
      slots.put_nowait(0);
  }
  ClientCore(const ClientCore&) = delete;
  ClientCore& operator=(const ClientCore&) = delete;
  ~ClientCore() { shutdown(); }

  // Starts a supervisor if none runs; with `wait_ready`, also waits (blocking) for its hello.
  void ensure_channel(std::chrono::milliseconds wait_ready = std::chrono::milliseconds(0));
  std::shared_ptr<ExecState> start(const ExecRequest& request, std::weak_ptr<ClientCore> self);
  bool signal(ExecState& st, int sig);
  void abandon(ExecState& st);
  void kill_all();
  bool signal_pid(int pid, int sig);
  void shutdown();
  std::size_t unfinished() const noexcept { return states_.size(); }
  int supervisor_pid() const noexcept { return ch_ ? ch_->pid : -1; }

  // Tokens for requests awaiting the supervisor's answer.
  ua::Queue<int> slots;

 private:
  struct Outgoing {
    std::string bytes;
    std::size_t sent = 0;
    int fds[2] = {-1, -1};  // sent with the first bytes, closed here once sent
  };
  struct Channel {
    pid_t pid = -1;
    int fd = -1;
    uv_poll_t* poll = nullptr;
    std::uint64_t generation = 0;
    bool want_write = false;
    proto::FrameReader reader;
    std::deque<Outgoing> out;
  };

  void queue(std::string frame, int fd0 = -1, int fd1 = -1);
  void flush();
  bool await_hello(Channel& ch, std::chrono::milliseconds limit);
  void on_poll(int status, int events);
  void read_frames();
  void dispatch(const proto::Frame& f);
  void lose_channel();
  void close_channel(Channel& ch);
  // Removes a finished request from the tables.
  std::shared_ptr<ExecState> take(std::uint64_t id);
  // Marks it exited and wakes whoever waits for it.
  void finish(ExecState& st);
  void finish_lost(ExecState& st);
  void update_poll();
  void reap_supervisors(bool wait);

  SupervisorOptions options_;
  uv_loop_t* loop_;
  std::unique_ptr<Channel> ch_;
  std::unordered_map<std::uint64_t, std::shared_ptr<ExecState>> states_;
  std::unordered_map<int, std::uint64_t> by_pid_;
  std::vector<pid_t> unreaped_;
  std::uint64_t next_id_ = 1;
  std::uint64_t generation_ = 0;
  bool closed_ = false;
  char read_buf_[64 * 1024];
};

void ClientCore::ensure_channel(std::chrono::milliseconds wait_ready) {
  if (closed_) throw SupervisorError("the exec supervisor client is closed");
  if (ch_) return;
  reap_supervisors(false);
  SupervisorChannel launched;
  try {
    launched = launch_supervisor(options_.program, options_.lock_fd);
  } catch (const std::exception& e) {
    throw SupervisorError(e.what());
  }
  auto ch = std::make_unique<Channel>();
  ch->pid = launched.pid;
  ch->fd = launched.fd;
  ch->generation = ++generation_;
  auto give_up = [&](const std::string& why) {
    ::close(ch->fd);
    unreaped_.push_back(ch->pid);  // it sees EOF and exits
    reap_supervisors(true);
    throw SupervisorError("exec supervisor: " + why);
  };
  if (wait_ready.count() > 0 && !await_hello(*ch, wait_ready)) {
    give_up("it did not start within " + std::to_string(wait_ready.count()) + " ms");
  }
  ch->poll = new uv_poll_t;
  if (const int rc = uv_poll_init(loop_, ch->poll, ch->fd); rc != 0) {
    delete ch->poll;
    give_up(std::string("cannot poll its channel: ") + uv_strerror(rc));
  }
  ch->poll->data = this;
  uv_poll_start(ch->poll, UV_READABLE, [](uv_poll_t* h, int status, int events) {
    static_cast<ClientCore*>(h->data)->on_poll(status, events);
  });
  ch_ = std::move(ch);
  update_poll();
}

// Blocks (this thread only: the loop is not polled) until the supervisor's hello has come.
bool ClientCore::await_hello(Channel& ch, std::chrono::milliseconds limit) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + limit;
  for (;;) {
    try {
      if (std::optional<proto::Frame> f = ch.reader.next()) {
        return f->type == proto::Type::hello &&
               proto::decode_hello(f->payload).version == proto::kVersion;
      }
    } catch (const proto::ProtocolError&) {
      return false;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{ch.fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) < 0 && errno != EINTR) return false;
    const ssize_t n = ::recv(ch.fd, read_buf_, sizeof read_buf_, MSG_DONTWAIT);
    if (n == 0) return false;  // it exited
    if (n > 0) ch.reader.append(read_buf_, static_cast<std::size_t>(n));
  }
}

std::shared_ptr<ExecState> ClientCore::start(const ExecRequest& request,
                                             std::weak_ptr<ClientCore> self) {
  ensure_channel();
  int out[2] = {-1, -1};
  int err[2] = {-1, -1};
  struct CloseOnError {
    int* fds[4];
    ~CloseOnError() {
      for (int* fd : fds)
        close_fd(*fd);
    }
  } guard{{&out[0], &out[1], &err[0], &err[1]}};
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    throw ua::OSError(errno, std::string("exec: cannot create a pipe: ") + std::strerror(errno));
  }
  auto st = std::make_shared<ExecState>();
  st->out = pipe_stream(std::exchange(out[0], -1));
  st->err = pipe_stream(std::exchange(err[0], -1));
  st->id = next_id_++;
  st->generation = ch_->generation;
  st->core = std::move(self);
  proto::SpawnRequest m;
  m.id = st->id;
  m.argv = request.argv;
  m.cwd = request.cwd;
  m.env = request.env;
  std::string frame = proto::encode(m);
  states_[st->id] = st;
  queue(std::move(frame), std::exchange(out[1], -1), std::exchange(err[1], -1));
  update_poll();
  return st;
}

void ClientCore::queue(std::string frame, int fd0, int fd1) {
  if (!ch_) {
    close_fd(fd0);
    close_fd(fd1);
    return;
  }
  Outgoing o;
  o.bytes = std::move(frame);
  o.fds[0] = fd0;
  o.fds[1] = fd1;
  ch_->out.push_back(std::move(o));
  flush();
}

void ClientCore::flush() {
  while (ch_ && !ch_->out.empty()) {
    Outgoing& o = ch_->out.front();
    iovec iov{o.bytes.data() + o.sent, o.bytes.size() - o.sent};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))];
    const bool with_fds = o.sent == 0 && o.fds[0] >= 0;
    if (with_fds) {
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(2 * sizeof(int));
      std::memcpy(CMSG_DATA(c), o.fds, 2 * sizeof(int));
    }
    const ssize_t n = ::sendmsg(ch_->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      lose_channel();  // EPIPE, ECONNRESET: the supervisor is gone
      return;
    }
    if (with_fds) {  // in flight now: the kernel holds its own references
      close_fd(o.fds[0]);
      close_fd(o.fds[1]);
    }
    o.sent += static_cast<std::size_t>(n);
    if (o.sent == o.bytes.size()) ch_->out.pop_front();
  }
  update_poll();
}

void ClientCore::update_poll() {
  if (!ch_) return;
  const bool want_write = !ch_->out.empty();
  if (want_write != ch_->want_write) {
    ch_->want_write = want_write;
    uv_poll_start(ch_->poll, UV_READABLE | (want_write ? UV_WRITABLE : 0),
                  [](uv_poll_t* h, int status, int events) {
                    static_cast<ClientCore*>(h->data)->on_poll(status, events);
                  });
  }
  // The channel keeps the loop alive only while someone waits for an answer on it.
  auto* h = reinterpret_cast<uv_handle_t*>(ch_->poll);
  if (states_.empty()) {
    uv_unref(h);
  } else {
    uv_ref(h);
  }
}

void ClientCore::on_poll(int status, int events) {
  const Channel* ch = ch_.get();
  if (status < 0) {
    lose_channel();
    return;
  }
  if (events & UV_READABLE) read_frames();
  if (ch_.get() == ch && (events & UV_WRITABLE)) flush();
}

void ClientCore::read_frames() {
  Channel* ch = ch_.get();
  while (ch_.get() == ch) {
    const ssize_t n = ::recv(ch->fd, read_buf_, sizeof read_buf_, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) lose_channel();
      return;
    }
    if (n == 0) {  // the supervisor exited
      lose_channel();
      return;
    }
    ch->reader.append(read_buf_, static_cast<std::size_t>(n));
    try {
      while (ch_.get() == ch) {
        std::optional<proto::Frame> f = ch->reader.next();
        if (!f) break;
        dispatch(*f);
      }
    } catch (const proto::ProtocolError&) {
      lose_channel();
      return;
    }
  }
}

void ClientCore::dispatch(const proto::Frame& f) {
  switch (f.type) {
    case proto::Type::hello: {
      if (proto::decode_hello(f.payload).version != proto::kVersion) {
        throw proto::ProtocolError("exec supervisor of another protocol version");
      }
      return;
    }
    case proto::Type::started: {
      const proto::Started m = proto::decode_started(f.payload);
      auto it = states_.find(m.id);
      if (it == states_.end()) return;
      std::shared_ptr<ExecState> st = it->second;  // signal() may lose the channel
      st->pid = m.pid;
      st->started = true;
      by_pid_[m.pid] = m.id;
      if (st->abandoned) signal(*st, SIGKILL);
      st->started_event.set();
      return;
    }
    case proto::Type::spawn_failed: {
      const proto::SpawnFailed m = proto::decode_spawn_failed(f.payload);
      if (std::shared_ptr<ExecState> st = take(m.id)) {
        st->spawn_error = m.error > 0 ? m.error : EIO;
        finish(*st);
      }
      return;
    }
    case proto::Type::exited: {
      const proto::Exited m = proto::decode_exited(f.payload);
      if (std::shared_ptr<ExecState> st = take(m.id)) {
        st->wait_status = m.wait_status;
        finish(*st);
      }
      return;
    }
    default:
      throw proto::ProtocolError("unexpected frame from the exec supervisor");
  }
}

std::shared_ptr<ExecState> ClientCore::take(std::uint64_t id) {
  auto it = states_.find(id);
  if (it == states_.end()) return nullptr;
  std::shared_ptr<ExecState> st = std::move(it->second);
  states_.erase(it);
  if (st->started) by_pid_.erase(st->pid);
  update_poll();
  return st;
}

void ClientCore::finish(ExecState& st) {
  st.exited = true;
  st.started_event.set();
  st.exited_event.set();
}

void ClientCore::finish_lost(ExecState& st) {
  st.supervisor_lost = true;
  if (st.started) {
    // Its keeper kills it when the supervisor dies (PR_SET_PDEATHSIG), or the supervisor did
    // on its way out: it ends as if killed.
    st.wait_status = SIGKILL;
  }
  finish(st);
}

void ClientCore::close_channel(Channel& ch) {
  uv_poll_stop(ch.poll);
  uv_close(reinterpret_cast<uv_handle_t*>(ch.poll),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
  ch.poll = nullptr;
  ::close(ch.fd);  // the supervisor reads EOF: it kills every step and exits
  ch.fd = -1;
  for (Outgoing& o : ch.out) {
    close_fd(o.fds[0]);
    close_fd(o.fds[1]);
  }
  ch.out.clear();
  unreaped_.push_back(ch.pid);
}

void ClientCore::lose_channel() {
  if (!ch_) return;
  std::unique_ptr<Channel> ch = std::move(ch_);
  close_channel(*ch);
  auto states = std::move(states_);
  states_.clear();
  by_pid_.clear();
  for (auto& [id, st] : states)
    finish_lost(*st);
  reap_supervisors(false);
}

bool ClientCore::signal(ExecState& st, int sig) {
  if (closed_ || !ch_ || !st.started || st.exited || st.generation != ch_->generation) {
    return false;
  }
  queue(proto::encode(proto::SignalRequest{st.id, sig}));
  return true;
}

void ClientCore::abandon(ExecState& st) {
  st.abandoned = true;
  signal(st, SIGKILL);  // if it has started already; otherwise when it does
}

void ClientCore::kill_all() {
  if (!closed_ && ch_) queue(proto::encode_kill_all());
}

bool ClientCore::signal_pid(int pid, int sig) {
  auto it = by_pid_.find(pid);
  if (it == by_pid_.end()) return false;
  auto st = states_.find(it->second);
  return st != states_.end() && signal(*st->second, sig);
}

void ClientCore::reap_supervisors(bool wait) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + kSupervisorExitLimit;
  std::vector<pid_t> left;
  for (pid_t pid : unreaped_) {
    for (;;) {
      const pid_t r = ::waitpid(pid, nullptr, WNOHANG);
      if (r == pid || (r < 0 && errno != EINTR)) break;  // reaped, or not ours (ECHILD)
      if (r < 0) continue;
      if (!wait) {
        left.push_back(pid);
        break;
      }
      if (Clock::now() >= deadline) {
        ::kill(pid, SIGKILL);
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  unreaped_ = std::move(left);
}

void ClientCore::shutdown() {
  if (closed_) return;
  closed_ = true;
  if (ch_) {
    std::unique_ptr<Channel> ch = std::move(ch_);
    close_channel(*ch);
  }
  auto states = std::move(states_);
  states_.clear();
  by_pid_.clear();
  for (auto& [id, st] : states)
    finish_lost(*st);
  // The supervisor exits once every step it ran is killed and reaped.
  reap_supervisors(true);
}

namespace {

// Gives a spawn slot back when the spawn's frame goes, however it ends.
struct SlotReturn {
  ClientCore& core;
  ~SlotReturn() { core.slots.put_nowait(0); }
};

ua::Coro<ExecProcess> spawn_impl(std::shared_ptr<ClientCore> core, ExecRequest request) {
  check_request(request);
  (void)co_await core->slots.get();
  SlotReturn slot{*core};
  std::shared_ptr<ExecState> st = core->start(request, core);
  try {
    co_await st->started_event.wait();
  } catch (const ua::CancelledError&) {
    core->abandon(*st);
    throw;
  }
  if (st->spawn_error != 0) throw ua::SpawnError(request.argv[0], request.cwd, st->spawn_error);
  if (st->supervisor_lost) {
    throw SupervisorError("the exec supervisor went away while starting '" + request.argv[0] + "'");
  }
  co_return ExecProcess(std::move(st));
}

ua::Coro<int> wait_impl(std::shared_ptr<ExecState> st) {
  if (!st->exited) co_await st->exited_event.wait();
  co_return to_exit_status(st->wait_status).returncode();
}

}  // namespace
}  // namespace detail

ExecProcess::ExecProcess(std::shared_ptr<detail::ExecState> state) noexcept
    : s_(std::move(state)) {}
ExecProcess::ExecProcess(ExecProcess&& o) noexcept = default;

ExecProcess& ExecProcess::operator=(ExecProcess&& o) noexcept {
  if (this != &o) {
    ExecProcess old(std::move(*this));
    s_ = std::move(o.s_);
  }
  return *this;
}

ExecProcess::~ExecProcess() {
  if (s_ && !s_->exited) kill();
}

int ExecProcess::pid() const noexcept {
  return s_->pid;
}

std::optional<uasyncio::ExitStatus> ExecProcess::exit_status() const noexcept {
  if (!s_->exited) return std::nullopt;
  return detail::to_exit_status(s_->wait_status);
}

std::optional<int> ExecProcess::returncode() const noexcept {
  if (!s_->exited) return std::nullopt;
  return detail::to_exit_status(s_->wait_status).returncode();
}

uasyncio::Coro<int> ExecProcess::wait() {
  return detail::wait_impl(s_);
}

bool ExecProcess::signal_group(int sig) {
  std::shared_ptr<detail::ClientCore> core = s_->core.lock();
  return core && core->signal(*s_, sig);
}

bool ExecProcess::terminate() {
  return signal_group(SIGTERM);
}
bool ExecProcess::kill() {
  return signal_group(SIGKILL);
}

uasyncio::Stream& ExecProcess::stdout_stream() noexcept {
  return s_->out;
}
uasyncio::Stream& ExecProcess::stderr_stream() noexcept {
  return s_->err;
}

SupervisorClient::SupervisorClient(SupervisorOptions options)
    : core_(std::make_shared<detail::ClientCore>(std::move(options))) {
  detail::this_thread_client = this;
}

SupervisorClient::~SupervisorClient() {
  core_->shutdown();
  if (detail::this_thread_client == this) detail::this_thread_client = nullptr;
}

uasyncio::Coro<ExecProcess> SupervisorClient::spawn(ExecRequest request) {
  return detail::spawn_impl(core_, std::move(request));
}

void SupervisorClient::start() {
  core_->ensure_channel(detail::kReadyLimit);
}

void SupervisorClient::kill_all() {
  core_->kill_all();
}

bool SupervisorClient::signal_pid(int pid, int sig) {
  return core_->signal_pid(pid, sig);
}

std::size_t SupervisorClient::unfinished() const noexcept {
  return core_->unfinished();
}

int SupervisorClient::supervisor_pid() const noexcept {
  return core_->supervisor_pid();
}

SupervisorClient* SupervisorClient::current() noexcept {
  return detail::this_thread_client;
}

}  // namespace uasyncd::exec
