// Template bodies of process_tree.hpp.
#pragma once

#include <sys/wait.h>
#include <time.h>

#include <cerrno>

namespace uasyncd::exec::detail {

template <class Reaped>
bool kill_and_reap_once(pid_t spare_group, Reaped on_reaped) {
  for (pid_t child : own_children())
    kill_child_and_group(child, spare_group);
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      on_reaped(pid, status);
      continue;
    }
    if (pid < 0 && errno == EINTR) continue;
    return pid < 0 && errno == ECHILD;
  }
}

template <class Reaped, class KeepGoing>
bool kill_all_children(pid_t spare_group, std::chrono::milliseconds limit, Reaped on_reaped,
                       KeepGoing keep_going) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (kill_and_reap_once(spare_group, on_reaped)) return true;
    if (!keep_going() || std::chrono::steady_clock::now() >= deadline) return false;
    // SIGKILL is delivered when the victim is next scheduled: a millisecond is plenty.
    const timespec pause{0, 1'000'000};
    ::nanosleep(&pause, nullptr);
  }
}

}  // namespace uasyncd::exec::detail
