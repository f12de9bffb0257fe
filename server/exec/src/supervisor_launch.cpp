#include "uasyncd/exec/supervisor_launch.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <vector>

#include "uasyncd/exec/exec_environment.hpp"
#include "uasyncd/exec/supervisor_main.hpp"

extern char** environ;

namespace uasyncd::exec {
namespace {

constexpr int kChannelFd = 3;
constexpr int kLockFd = 4;

// Closes what it holds when the launch is over, whichever way it ends.
struct Fds {
  std::vector<int> fds;
  ~Fds() {
    for (int fd : fds)
      ::close(fd);
  }
  int keep(int fd) {
    if (fd >= 0) fds.push_back(fd);
    return fd;
  }
};

struct SpawnSetup {
  posix_spawn_file_actions_t actions{};
  posix_spawnattr_t attr{};
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

[[noreturn]] void fail(int error, const std::string& what) {
  throw std::system_error(error, std::generic_category(), what);
}

}  // namespace

SupervisorChannel launch_supervisor(const std::string& program, int lock_fd) {
  Fds temporary;
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    fail(errno, "exec supervisor: socketpair");
  }
  const int daemon_end = pair[0];
  temporary.keep(pair[1]);
  // Above the target numbers, so that dup2 onto 3 cannot overwrite the lock fd before it is
  // moved to 4 (and so that dup2 never meets an fd already equal to its target).
  const int child_end = temporary.keep(::fcntl(pair[1], F_DUPFD_CLOEXEC, 10));
  const int lock_copy = lock_fd >= 0 ? temporary.keep(::fcntl(lock_fd, F_DUPFD_CLOEXEC, 10)) : -1;
  if (child_end < 0 || (lock_fd >= 0 && lock_copy < 0)) {
    const int error = errno;
    ::close(daemon_end);
    fail(error, "exec supervisor: fcntl");
  }

  SpawnSetup s;
  posix_spawn_file_actions_addopen(&s.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&s.actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&s.actions, child_end, kChannelFd);
  if (lock_copy >= 0) posix_spawn_file_actions_adddup2(&s.actions, lock_copy, kLockFd);
  sigset_t none;
  sigemptyset(&none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&s.attr, &none);
  posix_spawnattr_setsigdefault(&s.attr, &all);
  posix_spawnattr_setflags(&s.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  // argv[0] names the role for ps (the program is usually /proc/self/exe).
  std::vector<std::string> args{"uasyncd-exec-supervisor", std::string(kSupervisorFlag),
                                std::to_string(kChannelFd),
                                std::to_string(lock_copy >= 0 ? kLockFd : -1)};
  std::vector<char*> argv;
  for (std::string& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = supervisor_environment(environ);
  std::vector<char*> envp;
  for (std::string& e : env)
    envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = -1;
  const int rc =
      ::posix_spawn(&pid, program.c_str(), &s.actions, &s.attr, argv.data(), envp.data());
  if (rc != 0) {
    ::close(daemon_end);
    fail(rc, "cannot start the exec supervisor '" + program + "'");
  }
  return SupervisorChannel{pid, daemon_end};
}

}  // namespace uasyncd::exec
