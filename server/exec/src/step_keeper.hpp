// The step keeper: one small process per running exec step, forked by the supervisor. It is a
// child subreaper and the parent of the step's command, so every process the command starts
// stays below it whatever it does (a new process group, setsid, a double fork): when the
// command exits, the keeper kills the command's process group and then every descendant left,
// reaps them all, and only then reports the exit. So no process outlives its step, and the
// step's pipes reach EOF.
//
// It also relays signals to the command's group (SIGRTMIN from the supervisor, carrying the
// signal number), and kills the group when the supervisor dies (PR_SET_PDEATHSIG = SIGTERM).
//
// Lifetime: from the supervisor's fork until the step's subtree is gone; it never returns.
// Thread rules: runs alone in its own process.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace uasyncd::exec::detail {

struct KeeperSetup {
  std::vector<std::string> argv;
  std::string cwd;
  std::vector<std::string> env;  // NAME=value, the command's whole environment
  int stdout_fd = -1;            // the write ends of the daemon's pipes
  int stderr_fd = -1;
  int report_fd = -1;  // the shared pipe to the supervisor
  int lock_fd = -1;    // held while any process of this run may live (see exec_lock.hpp)
  pid_t supervisor = 0;
};

// A keeper's exit status when it gave up on killing part of its step's subtree: those
// processes are reparented to the supervisor, whose sweep takes over.
inline constexpr int kExitLeftOrphans = 3;

// The signals the supervisor blocks before it forks a keeper, so none is lost before the keeper
// reads them from its signalfd.
void keeper_signal_set(sigset_t* set);

[[noreturn]] void run_keeper(const KeeperSetup& setup) noexcept;

}  // namespace uasyncd::exec::detail
