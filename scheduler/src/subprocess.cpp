#include "uasyncio/subprocess.hpp"

#include <signal.h>
#include <uv.h>

#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <memory>
#include <system_error>
#include <utility>

#include "uasyncio/detail/uv_close.hpp"
#include "uasyncio/errors.hpp"
#include "uasyncio/gather.hpp"

extern char** environ;

namespace uasyncio {
namespace detail {

// Everything about one child. It outlives the Process object while libuv still needs it: the
// process handle (until closed), the Process and every pending wait() hold a reference, and the
// last one frees it. So a Process dropped before its child exits leaves no dangling handle: the
// handle is closed, and the state freed, from the exit callback. The pipes are Streams, which
// look after their own handles.
struct ProcessState {
  Scheduler* scheduler = nullptr;
  uv_process_t handle{};
  int refs = 0;
  int pid = 0;
  bool group_leader = false;
  bool exited = false;
  ExitStatus status;
  WaitList waiters;
  Stream in;
  Stream out;
  Stream err;
};

void intrusive_add_ref(ProcessState* s) noexcept {
  ++s->refs;
}
void intrusive_release(ProcessState* s) noexcept {
  if (--s->refs == 0) delete s;
}

namespace {

// The process handle holds a reference to the state until libuv has closed it.
void close_process_handle(ProcessState* s) {
  close_handle<ProcessState, &intrusive_release>(&s->handle);
}

void on_exit(uv_process_t* h, std::int64_t exit_status, int term_signal) {
  auto* s = static_cast<ProcessState*>(h->data);
  s->exited = true;
  s->status = ExitStatus{static_cast<int>(exit_status), term_signal};
  wake_all(*s->scheduler, s->waiters);
  // The pid is reaped: the handle has nothing left to do.
  close_process_handle(s);
}

std::vector<std::string> child_environment(const SubprocessOptions& o) {
  std::map<std::string, std::string> vars;
  if (o.inherit_env) {
    for (char** e = environ; *e != nullptr; ++e) {
      std::string entry(*e);
      const std::size_t eq = entry.find('=');
      if (eq == std::string::npos) continue;
      vars.emplace(entry.substr(0, eq), entry.substr(eq + 1));
    }
  }
  for (const auto& [name, value] : o.env)
    vars[name] = value;
  std::vector<std::string> out;
  out.reserve(vars.size());
  for (const auto& [name, value] : vars)
    out.push_back(name + "=" + value);
  return out;
}

// The pipes this process makes for the child. The parent ends go into libuv handles; the child
// ends are handed over as the child's fds 0-2 and closed here once uv_spawn is done (so that EOF
// arrives when the child, and everything it started, has closed its copies).
class ChildEnds {
 public:
  ChildEnds() = default;
  ChildEnds(const ChildEnds&) = delete;
  ChildEnds& operator=(const ChildEnds&) = delete;
  ~ChildEnds() {
    for (uv_file fd : fds_)
      ::close(fd);
  }
  void keep(uv_file fd) { fds_.push_back(fd); }

 private:
  std::vector<uv_file> fds_;
};

// Makes a pipe; the parent's end becomes `stream`, the child's end is returned.
uv_file make_pipe(Stream& stream, bool child_reads, ChildEnds& ends) {
  uv_file fds[2];
  // Only the parent's end is non-blocking: the child gets an ordinary blocking fd.
  const int rc =
      child_reads ? uv_pipe(fds, 0, UV_NONBLOCK_PIPE) : uv_pipe(fds, UV_NONBLOCK_PIPE, 0);
  if (rc != 0) throw_os_error(rc, "create_subprocess_exec: cannot create a pipe");
  const uv_file parent = child_reads ? fds[1] : fds[0];
  const uv_file child = child_reads ? fds[0] : fds[1];
  ends.keep(child);
  auto handle = std::make_unique<uv_pipe_t>();
  uv_pipe_init(current_scheduler().uv_loop(), handle.get(), 0);
  // Adopted before opening, so that the stream closes the handle if opening fails.
  stream = Stream::adopt(std::move(handle));
  if (const int orc = uv_pipe_open(reinterpret_cast<uv_pipe_t*>(stream.uv_stream()), parent);
      orc != 0) {
    ::close(parent);
    throw_os_error(orc, "create_subprocess_exec: cannot open a pipe");
  }
  return child;
}

uv_stdio_container_t fd_stdio(int fd) {
  uv_stdio_container_t c{};
  c.flags = UV_INHERIT_FD;
  c.data.fd = fd;
  return c;
}

uv_stdio_container_t devnull_stdio() {
  uv_stdio_container_t c{};
  c.flags = UV_IGNORE;  // libuv opens /dev/null for fds 0-2
  return c;
}

void close_pipes(ProcessState* s) {
  s->in = Stream();
  s->out = Stream();
  s->err = Stream();
}

// Sets up fds 0-2 of the child.
void prepare_stdio(ProcessState* s, const SubprocessOptions& o, uv_stdio_container_t* stdio,
                   ChildEnds& ends) {
  switch (o.stdin_mode) {
    case Stdio::inherit:
      stdio[0] = fd_stdio(0);
      break;
    case Stdio::devnull:
      stdio[0] = devnull_stdio();
      break;
    case Stdio::pipe:
      stdio[0] = fd_stdio(make_pipe(s->in, true, ends));
      break;
    case Stdio::to_stdout:
      throw std::invalid_argument("Stdio::to_stdout is only valid for stderr");
  }
  const Stdio modes[2] = {o.stdout_mode, o.stderr_mode};
  Stream* pipes[2] = {&s->out, &s->err};
  for (int i = 0; i < 2; ++i) {
    switch (modes[i]) {
      case Stdio::inherit:
        stdio[1 + i] = fd_stdio(1 + i);
        break;
      case Stdio::devnull:
        stdio[1 + i] = devnull_stdio();
        break;
      case Stdio::pipe:
        stdio[1 + i] = fd_stdio(make_pipe(*pipes[i], false, ends));
        break;
      case Stdio::to_stdout:
        if (i == 0) throw std::invalid_argument("Stdio::to_stdout is only valid for stderr");
        stdio[2] = stdio[1];
        break;
    }
  }
}

Process spawn(const std::vector<std::string>& argv, const SubprocessOptions& o) {
  if (argv.empty()) throw std::invalid_argument("create_subprocess_exec: empty argv");
  Scheduler& scheduler = current_scheduler();

  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  std::vector<char*> env;
  const bool own_env = !o.inherit_env || !o.env.empty();
  if (own_env) {
    env_strings = child_environment(o);
    for (std::string& e : env_strings)
      env.push_back(e.data());
    env.push_back(nullptr);
  }

  IntrusivePtr<ProcessState> state(new ProcessState);  // the Process's, once it is made
  ProcessState* s = state.get();
  s->scheduler = &scheduler;
  ChildEnds ends;
  uv_stdio_container_t stdio[3]{};
  try {
    prepare_stdio(s, o, stdio, ends);
  } catch (...) {
    close_pipes(s);
    throw;
  }

  uv_process_options_t opts{};
  opts.exit_cb = on_exit;
  opts.file = args[0];
  opts.args = args.data();
  opts.env = own_env ? env.data() : nullptr;
  opts.cwd = o.cwd.empty() ? nullptr : o.cwd.c_str();
  opts.flags = o.new_process_group ? UV_PROCESS_DETACHED : 0;
  opts.stdio_count = 3;
  opts.stdio = stdio;

  s->handle.data = s;
  intrusive_add_ref(s);  // the process handle's, until it is closed
  const int rc = uv_spawn(scheduler.uv_loop(), &s->handle, &opts);
  if (rc != 0) {
    // uv_spawn initialised the handle even though it failed: it must still be closed.
    close_process_handle(s);
    close_pipes(s);
    throw SpawnError(argv[0], o.cwd, -rc);
  }
  s->pid = s->handle.pid;
  s->group_leader = o.new_process_group;
  return Process(std::move(state));
}

}  // namespace
}  // namespace detail

SpawnError::SpawnError(std::string program, std::string cwd, int error_code)
    : std::runtime_error("cannot run '" + program + "'" +
                         (cwd.empty() ? std::string() : " in '" + cwd + "'") + ": " +
                         uv_strerror(-error_code) + " (" + uv_err_name(-error_code) + ")"),
      program_(std::move(program)),
      error_code_(error_code) {}

Process& Process::operator=(Process&& o) noexcept {
  if (this != &o) {
    Process old(std::move(*this));
    s_ = std::move(o.s_);
  }
  return *this;
}

Process::~Process() {
  if (s_) detail::close_pipes(s_.get());
}

int Process::pid() const noexcept {
  return s_->pid;
}

std::optional<int> Process::returncode() const noexcept {
  if (!s_->exited) return std::nullopt;
  return s_->status.returncode();
}

std::optional<ExitStatus> Process::exit_status() const noexcept {
  if (!s_->exited) return std::nullopt;
  return s_->status;
}

bool Process::send_signal(int sig) {
  if (s_->exited) return false;
  const int rc = uv_process_kill(&s_->handle, sig);
  if (rc == UV_ESRCH) return false;
  if (rc != 0) throw std::system_error(-rc, std::generic_category(), "send_signal");
  return true;
}

bool Process::signal_group(int sig) {
  if (!s_->group_leader) return send_signal(sig);
  // The group outlives its leader as long as any member is alive, and its id cannot be handed
  // to a new process meanwhile, so signalling it after the child exited is still safe.
  if (::kill(-s_->pid, sig) == 0) return true;
  if (errno == ESRCH) return false;
  throw std::system_error(errno, std::generic_category(), "signal_group");
}

bool Process::terminate() {
  return signal_group(SIGTERM);
}
bool Process::kill() {
  return signal_group(SIGKILL);
}

namespace {
Stream& piped(Stream& s, const char* name) {
  if (!s) throw RuntimeError(std::string("the child's ") + name + " is not a pipe (Stdio::pipe)");
  return s;
}
}  // namespace

Stream& Process::stdin_stream() {
  return piped(s_->in, "stdin");
}
Stream& Process::stdout_stream() {
  return piped(s_->out, "stdout");
}
Stream& Process::stderr_stream() {
  return piped(s_->err, "stderr");
}

namespace detail {
namespace {
Coro<void> feed(Stream in, std::string input) {
  if (!in) co_return;
  try {
    if (!input.empty()) {
      in.write(input);
      co_await in.drain();
    }
  } catch (const BrokenPipeError&) {  // the child does not want its input: as CPython, not an error
  } catch (const ConnectionResetError&) {
  }
  co_await in.wait_closed();  // EOF for the child
}

Coro<std::string> read_all(Stream s) {
  if (!s) co_return std::string();
  co_return co_await s.read(-1);
}

// Everything it needs is a parameter, held from the call on (a coroutine's parameters are
// copied into its frame when it is called, not when it starts): the state, and the pipes, which
// the Process releases when it goes.
Coro<std::pair<std::string, std::string>> communicate_impl(IntrusivePtr<ProcessState> s, Stream in,
                                                           Stream out, Stream err,
                                                           std::string input) {
  auto [fed, out_text, err_text] = co_await gather(
      feed(std::move(in), std::move(input)), read_all(std::move(out)), read_all(std::move(err)));
  (void)fed;
  co_await Process::WaitAwaiter(std::move(s));
  co_return std::pair<std::string, std::string>(std::move(out_text), std::move(err_text));
}
}  // namespace
}  // namespace detail

Coro<std::pair<std::string, std::string>> Process::communicate(const std::string& input) {
  return detail::communicate_impl(s_, s_->in, s_->out, s_->err, input);
}
Coro<std::pair<std::string, std::string>> Process::communicate() {
  return communicate(std::string());
}

bool Process::WaitAwaiter::await_ready() const noexcept {
  return s_->exited;
}
void Process::WaitAwaiter::await_suspend(std::coroutine_handle<> h) {
  park(s_->waiters, h);
}
int Process::WaitAwaiter::await_resume() {
  raise_if_cancelled();
  return s_->status.returncode();
}

namespace detail {
namespace {
Coro<Process> spawn_when_awaited(std::vector<std::string> argv, SubprocessOptions options) {
  co_return spawn(argv, options);
}
}  // namespace
}  // namespace detail

Coro<Process> create_subprocess_exec(const std::vector<std::string>& argv,
                                     const SubprocessOptions& options) {
  return detail::spawn_when_awaited(argv, options);
}

Coro<Process> create_subprocess_exec(const std::vector<std::string>& argv) {
  return detail::spawn_when_awaited(argv, SubprocessOptions{});
}

Coro<Process> create_subprocess_shell(const std::string& command,
                                      const SubprocessOptions& options) {
  return detail::spawn_when_awaited({"/bin/sh", "-c", command}, options);
}

Coro<Process> create_subprocess_shell(const std::string& command) {
  return create_subprocess_shell(command, SubprocessOptions{});
}

}  // namespace uasyncio
