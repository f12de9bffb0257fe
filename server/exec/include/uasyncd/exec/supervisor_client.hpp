// The daemon's side of the exec supervisor, on a uasyncio loop: start commands without forking
// on the loop's thread, read their output as uasyncio Streams, signal their process groups,
// await their exit.
//
//   uasyncd::exec::SupervisorClient supervisor({.program = "/proc/self/exe"});  // loop thread
//   ExecProcess p = co_await supervisor.spawn({{"sh", "-c", "echo hi"}, "", {}});
//   std::string out = co_await p.stdout_stream().read(-1);  // "hi\n", up to EOF
//   int rc = co_await p.wait();                              // 0; a signal gives -signo
//
// What the supervisor guarantees (supervisor_process.hpp, step_keeper.hpp): each command leads
// its own session and process group, stdin is /dev/null, its environment is the allow-list of
// exec_environment.hpp plus the request's env; when the command exits, its group and every
// process it left below it (whatever group or session they moved to) are killed and reaped
// before wait() returns; when this client is destroyed, or the daemon dies however it dies,
// every command and everything below it is killed within milliseconds.
//
// spawn() is cheap on the loop (two pipes and one message): the fork and exec happen in the
// supervisor. At most `max_pending_spawns` requests wait for the supervisor's answer at once;
// more spawn() calls queue in FIFO order, so a gather of thousands of commands neither stalls
// the loop nor runs out of descriptors while it waits.
//
// The supervisor is started by start() or at the first spawn() (posix_spawn, safe in a threaded
// daemon) and started again at the next spawn() if it ever died (running commands then end as if
// killed by SIGKILL: its keepers kill them when it dies).
//
// Thread rules: a SupervisorClient and every ExecProcess it gave belong to the thread of the
// loop it was created on, and are used only there, from tasks or loop callbacks.
// Lifetime: the client must outlive the tasks that await it, and must be destroyed before its
// loop. Destroying it kills every command it started and waits (up to a few seconds, blocking)
// until the supervisor has reaped them all and exited. An ExecProcess may outlive the client.
#pragma once

#include <uasyncio/coro.hpp>
#include <uasyncio/stream.hpp>
#include <uasyncio/subprocess.hpp>

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace uasyncd::exec {

struct ExecRequest {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH (the child's) without a '/'
  std::string cwd;                // empty: the supervisor's (the daemon's) working directory
  std::map<std::string, std::string> env;
};

struct SupervisorOptions {
  // The executable run as `program --exec-supervisor ...` (supervisor_main.hpp). The daemon
  // uses "/proc/self/exe": always its own code, even after its file was replaced by an upgrade.
  std::string program;
  // ExecLock::fd(), inherited by the supervisor and its keepers; -1: no lock (--ephemeral).
  int lock_fd = -1;
  std::size_t max_pending_spawns = 64;
};

// The supervisor could not be started, or went away while a spawn waited for it.
class SupervisorError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
struct ExecState;
class ClientCore;
}  // namespace detail

// One command started by the supervisor. Move-only. Dropping it while the command runs kills
// the command's process group (SIGKILL): a command never outlives its handle unnoticed.
class ExecProcess {
 public:
  explicit ExecProcess(std::shared_ptr<detail::ExecState> state) noexcept;
  ExecProcess(ExecProcess&& o) noexcept;
  ExecProcess& operator=(ExecProcess&& o) noexcept;
  ExecProcess(const ExecProcess&) = delete;
  ExecProcess& operator=(const ExecProcess&) = delete;
  ~ExecProcess();

  // The command's pid, which is also its process group and session id.
  int pid() const noexcept;
  // None until the supervisor reported the exit (after the command's whole subtree was killed).
  std::optional<uasyncio::ExitStatus> exit_status() const noexcept;
  std::optional<int> returncode() const noexcept;
  // Waits for the exit; gives the returncode (minus the signal number if a signal ended it).
  // Cancelling the waiting task only stops the waiting.
  uasyncio::Coro<int> wait();

  // Sends `sig` to the command's process group; false once it has exited or the supervisor is
  // gone. Delivered asynchronously (through the supervisor), in the order sent.
  bool signal_group(int sig);
  bool terminate();  // SIGTERM to the group
  bool kill();       // SIGKILL to the group

  // The read ends of the command's stdout and stderr (EOF once every process holding the write
  // end is gone, which the step-end sweep guarantees).
  uasyncio::Stream& stdout_stream() noexcept;
  uasyncio::Stream& stderr_stream() noexcept;

 private:
  std::shared_ptr<detail::ExecState> s_;
};

class SupervisorClient {
 public:
  // On the loop's thread; the loop becomes this thread's supervisor's (see current()).
  explicit SupervisorClient(SupervisorOptions options);
  SupervisorClient(const SupervisorClient&) = delete;
  SupervisorClient& operator=(const SupervisorClient&) = delete;
  ~SupervisorClient();

  // Starts the supervisor now if none runs, and blocks until it is ready (its first message;
  // a few milliseconds, at most 10 s), so that the first spawn() does not wait for a program to
  // start. Throws SupervisorError if it cannot be started. spawn() starts one when needed
  // without blocking.
  void start();

  // Starts the command when awaited. Throws uasyncio::SpawnError naming the program when it
  // cannot be run (ENOENT, EACCES, a bad cwd), SupervisorError when the supervisor cannot be
  // started or died meanwhile, std::invalid_argument for an empty argv or a NUL byte in a
  // string. A cancelled spawn() leaves nothing behind (a command it started is killed).
  uasyncio::Coro<ExecProcess> spawn(ExecRequest request);

  // SIGKILL to every command's group at once (an instance that lost its lease stops its steps
  // fast); each one's wait() then returns as usual.
  void kill_all();
  // signal_group() of the running command whose pid is `pid`; false if none.
  bool signal_pid(int pid, int sig);

  // Commands started or being started that have not been reported exited.
  std::size_t unfinished() const noexcept;
  // The supervisor's pid, or -1 while none runs.
  int supervisor_pid() const noexcept;

  // The client created on this thread, or null.
  static SupervisorClient* current() noexcept;

 private:
  std::shared_ptr<detail::ClientCore> core_;
};

}  // namespace uasyncd::exec
