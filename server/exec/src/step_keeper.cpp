#include "step_keeper.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <exception>

#include "fd_hygiene.hpp"
#include "keeper_report.hpp"
#include "process_tree.hpp"

extern char** environ;

namespace uasyncd::exec::detail {
namespace {

// A descendant stuck in uninterruptible sleep cannot be killed: past this the keeper reports
// the exit anyway and leaves the rest to the supervisor's sweep.
constexpr std::chrono::seconds kSweepLimit{10};

void report(int fd, ReportKind kind, int value) {
  KeeperReport r;
  r.keeper = static_cast<std::int32_t>(::getpid());
  r.kind = kind;
  r.value = value;
  // A single write below PIPE_BUF is atomic; EPIPE (the supervisor is gone) is ignored.
  while (::write(fd, &r, sizeof r) < 0 && errno == EINTR) {
  }
}

void write_errno(int fd, int error) {
  while (::write(fd, &error, sizeof error) < 0 && errno == EINTR) {
  }
}

// In the command's process, between fork and execve: only system calls, on data the keeper
// prepared, and nothing that allocates.
[[noreturn]] void become_command(char* const* argv, char* const* envp, const char* cwd,
                                 int stdout_fd, int stderr_fd, int error_fd) {
  ::setsid();
  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0 || ::dup2(devnull, 0) < 0 || ::dup2(stdout_fd, 1) < 0 ||
      ::dup2(stderr_fd, 2) < 0) {
    write_errno(error_fd, errno);
    ::_exit(127);
  }
  // Default dispositions and an empty mask, as a freshly started program expects (the
  // supervisor ignores SIGINT, SIGHUP, SIGQUIT and SIGPIPE, and blocks what its signalfd reads).
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig)
    ::sigaction(sig, &dfl, nullptr);  // EINVAL for SIGKILL, SIGSTOP and reserved ones: fine
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  cloexec_from(3);
  if (cwd[0] != '\0' && ::chdir(cwd) != 0) {
    write_errno(error_fd, errno);
    ::_exit(127);
  }
  // execvp looks the program up in PATH as getenv sees it: the command's own environment.
  environ = const_cast<char**>(envp);
  ::execvp(argv[0], argv);
  write_errno(error_fd, errno);
  ::_exit(127);
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const std::string& s : strings)
    out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// Reaps whatever has exited. When it is the command, its process group is killed first, while
// the unreaped command still holds the group id so that it cannot name anyone else's group.
void reap(pid_t command, bool& command_done, int& command_status) {
  for (;;) {
    siginfo_t info{};
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
      if (errno == EINTR) continue;
      return;  // ECHILD
    }
    if (info.si_pid == 0) return;
    if (info.si_pid == command) {
      ::kill(-command, SIGKILL);
      while (::waitpid(command, &command_status, 0) < 0 && errno == EINTR) {
      }
      command_done = true;
    } else {
      while (::waitpid(info.si_pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
  }
}

[[noreturn]] void keep(const KeeperSetup& s) {
  // The supervisor's death must take the step down: it arrives as SIGTERM. If the supervisor
  // died before this line, the parent is already someone else: nothing was started, leave.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != s.supervisor) ::_exit(0);
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  ::prctl(PR_SET_NAME, "uasyncd-keeper");
  close_fds_except({s.stdout_fd, s.stderr_fd, s.report_fd, s.lock_fd});

  sigset_t signals;
  keeper_signal_set(&signals);
  const int sfd = ::signalfd(-1, &signals, SFD_CLOEXEC);
  int error_pipe[2];
  if (sfd < 0 || ::pipe2(error_pipe, O_CLOEXEC) != 0) {
    report(s.report_fd, ReportKind::spawn_failed, errno);
    ::_exit(0);
  }
  std::vector<char*> argv = c_strings(s.argv);
  std::vector<char*> envp = c_strings(s.env);

  const pid_t command = ::fork();
  if (command == 0) {
    become_command(argv.data(), envp.data(), s.cwd.c_str(), s.stdout_fd, s.stderr_fd,
                   error_pipe[1]);
  }
  const int fork_error = errno;
  ::close(error_pipe[1]);
  ::close(s.stdout_fd);
  ::close(s.stderr_fd);
  if (command < 0) {
    report(s.report_fd, ReportKind::spawn_failed, fork_error);
    ::_exit(0);
  }
  // EOF: execve succeeded (the pipe closed on exec); an int: the errno of what failed.
  int exec_error = 0;
  ssize_t n;
  while ((n = ::read(error_pipe[0], &exec_error, sizeof exec_error)) < 0 && errno == EINTR) {
  }
  ::close(error_pipe[0]);
  if (n == static_cast<ssize_t>(sizeof exec_error)) {
    while (::waitpid(command, nullptr, 0) < 0 && errno == EINTR) {
    }
    report(s.report_fd, ReportKind::spawn_failed, exec_error);
    ::_exit(0);
  }
  report(s.report_fd, ReportKind::started, command);

  bool command_done = false;
  int command_status = 0;
  while (!command_done) {
    signalfd_siginfo si{};
    const ssize_t got = ::read(sfd, &si, sizeof si);
    if (got != static_cast<ssize_t>(sizeof si)) {
      if (got < 0 && errno == EINTR) continue;
      // Deaf to the supervisor and to exits: end the step rather than keep it unsupervised.
      ::kill(-command, SIGKILL);
      while (::waitpid(command, &command_status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    if (static_cast<int>(si.ssi_signo) == SIGRTMIN) {
      ::kill(-command, si.ssi_int);
    } else if (si.ssi_signo == SIGTERM) {
      ::kill(-command, SIGKILL);
    }
    reap(command, command_done, command_status);
  }
  const bool all_gone = kill_all_children(
      ::getpgrp(), kSweepLimit, [](pid_t, int) {}, [] { return true; });
  report(s.report_fd, ReportKind::exited, command_status);
  ::_exit(all_gone ? 0 : kExitLeftOrphans);
}

}  // namespace

void keeper_signal_set(sigset_t* set) {
  sigemptyset(set);
  sigaddset(set, SIGCHLD);
  sigaddset(set, SIGTERM);
  sigaddset(set, SIGRTMIN);
}

void run_keeper(const KeeperSetup& setup) noexcept {
  try {
    keep(setup);
  } catch (const std::exception&) {  // out of memory in a fresh keeper: the step cannot start
  }
  report(setup.report_fd, ReportKind::spawn_failed, ENOMEM);
  ::_exit(1);
}

}  // namespace uasyncd::exec::detail
