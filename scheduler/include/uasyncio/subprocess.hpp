// Subprocesses in the shape of CPython's asyncio.create_subprocess_exec, on uv_spawn.
//
//   std::vector<std::string> argv{"sh", "-c", "echo hello; exit 3"};
//   ua::SubprocessOptions opt;
//   opt.stdout_mode = ua::Stdio::pipe;
//   ua::Process p = co_await ua::create_subprocess_exec(argv, opt);
//   std::string out = co_await p.stdout_stream().read(-1);  // "hello\n", up to EOF
//   int rc = co_await p.wait();  // 3; a signal gives -signo (-SIGTERM), as CPython
//
// By default the child leads a new session and process group (setsid), so terminate() and kill()
// reach everything it started, not just the child: a shell's background jobs and a build's
// compilers die with it, instead of being left running when their parent is killed.
//
// (MicroPython has no subprocesses: this is CPython's asyncio API.)
// Lifetime: a Process and the awaitables it hands out (wait(), communicate()) each keep the
// process's state alive; the child is reaped whenever it exits while the loop runs, whether or
// not a Process is left. uv_spawn forks on the calling (loop) thread.
// Thread rules: on the loop's thread only.
#pragma once

#include <coroutine>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "uasyncio/coro.hpp"
#include "uasyncio/detail/intrusive_ptr.hpp"
#include "uasyncio/detail/parking.hpp"
#include "uasyncio/stream.hpp"

namespace uasyncio {

// Where one of the child's standard streams goes.
enum class Stdio {
  inherit,    // the parent's own fd
  pipe,       // a pipe this process reads (stdout/stderr) or writes (stdin)
  devnull,    // /dev/null
  to_stdout,  // stderr only: into whatever stdout goes to (CPython's STDOUT)
};

struct SubprocessOptions {
  // Variables for the child: added to the parent's environment (overriding same names) when
  // inherit_env, or the child's whole environment when not.
  std::map<std::string, std::string> env;
  bool inherit_env = true;
  // The child's working directory; empty keeps the parent's.
  std::string cwd;
  Stdio stdin_mode = Stdio::inherit;
  Stdio stdout_mode = Stdio::inherit;
  Stdio stderr_mode = Stdio::inherit;
  // The child calls setsid(): it leads its own session and process group, which
  // terminate()/kill() then signal as a whole. Off: it stays in ours, and they signal it alone.
  bool new_process_group = true;
};

// The program could not be started (uv_spawn failed: ENOENT, EACCES, a bad cwd, ...).
class SpawnError : public std::runtime_error {
 public:
  SpawnError(std::string program, std::string cwd, int error_code);
  const std::string& program() const noexcept { return program_; }
  // The positive errno value (ENOENT, EACCES, ...).
  int error_code() const noexcept { return error_code_; }

 private:
  std::string program_;
  int error_code_;
};

// How the child ended.
struct ExitStatus {
  int exit_code = 0;    // its exit status, when it exited on its own
  int term_signal = 0;  // the signal that ended it, or 0
  bool signaled() const noexcept { return term_signal != 0; }
  // CPython's returncode: the exit status, or minus the signal number.
  int returncode() const noexcept { return term_signal != 0 ? -term_signal : exit_code; }
};

namespace detail {
struct ProcessState;
void intrusive_add_ref(ProcessState* s) noexcept;
void intrusive_release(ProcessState* s) noexcept;
}  // namespace detail

class Process {
 public:
  explicit Process(detail::IntrusivePtr<detail::ProcessState> state) noexcept
      : s_(std::move(state)) {}
  Process(Process&& o) noexcept = default;
  Process& operator=(Process&& o) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  // Dropping a Process does not stop the child (as in CPython): it runs on, and it is still
  // reaped when it exits while the loop runs. Its pipe Streams are released (a pipe closes once
  // no copy of its Stream is left).
  ~Process();

  int pid() const noexcept;
  // proc.returncode: None while the child runs (or before the loop has seen it exit).
  std::optional<int> returncode() const noexcept;
  std::optional<ExitStatus> exit_status() const noexcept;

  // The awaitable of wait(): gives the returncode once the child has exited.
  class WaitAwaiter : public detail::Parking<> {
   public:
    explicit WaitAwaiter(detail::IntrusivePtr<detail::ProcessState> s) noexcept
        : s_(std::move(s)) {}
    WaitAwaiter(WaitAwaiter&&) noexcept = default;
    // Unlinks the node (in the state's list) before the state can go.
    ~WaitAwaiter() {
      if (node_.linked()) node_.list->remove(&node_);
    }
    bool await_ready() const noexcept;
    void await_suspend(std::coroutine_handle<> h);
    int await_resume();

   private:
    detail::IntrusivePtr<detail::ProcessState> s_;
  };
  // `await proc.wait()`: waits until the child has exited; gives its returncode. Cancelling
  // the waiting task (or a wait_for timeout) only stops the waiting: the child keeps running.
  WaitAwaiter wait() const noexcept { return WaitAwaiter(s_); }

  // Sends `sig` to the child alone. False once it has exited (its pid may be someone else's now).
  bool send_signal(int sig);
  // Sends `sig` to the child's whole process group: the child and everything it started that is
  // still in the group, even after the child itself has exited. False if nothing was left to
  // signal. Without new_process_group this is send_signal.
  bool signal_group(int sig);
  // SIGTERM / SIGKILL to the process group (see signal_group).
  bool terminate();
  bool kill();

  // CPython's proc.stdin / proc.stdout / proc.stderr: the parent's end of a Stdio::pipe
  // (RuntimeError if that stream is not a pipe). Write to stdin, then `co_await
  // stdin_stream().wait_closed()` to send EOF (close() alone does nothing, as MicroPython's
  // Stream.close()); read stdout with read(-1), readline(), readexactly(n). Copies of a Stream
  // share the one pipe, which closes when the last copy (the Process holds one) goes.
  Stream& stdin_stream();
  Stream& stdout_stream();
  Stream& stderr_stream();

  // `await proc.communicate(input)`: writes `input` to stdin (if piped) and closes it, reads
  // stdout and stderr (those piped) to EOF at the same time (so a child filling one pipe cannot
  // block on it while we read the other), then waits for the exit. Gives (stdout, stderr); a
  // stream not piped gives "". The coroutine holds what it needs: the Process may go first.
  Coro<std::pair<std::string, std::string>> communicate(const std::string& input);
  Coro<std::pair<std::string, std::string>> communicate();

 private:
  detail::IntrusivePtr<detail::ProcessState> s_;
};

// CPython's asyncio.create_subprocess_exec(*argv): starts argv[0] (looked up in PATH when it has
// no '/') with arguments argv[1..] when awaited.
// Throws SpawnError naming the program when it cannot be started. (Overloads rather than a
// default argument: g++ 12 mishandles a defaulted argument inside a co_await expression.)
Coro<Process> create_subprocess_exec(const std::vector<std::string>& argv,
                                     const SubprocessOptions& options);
Coro<Process> create_subprocess_exec(const std::vector<std::string>& argv);
// create_subprocess_exec({"/bin/sh", "-c", command}, options).
Coro<Process> create_subprocess_shell(const std::string& command, const SubprocessOptions& options);
Coro<Process> create_subprocess_shell(const std::string& command);

}  // namespace uasyncio
