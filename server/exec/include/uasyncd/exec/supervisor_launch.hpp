// Starting the exec supervisor process: posix_spawn of `program kSupervisorFlag 3 4`, with one
// end of a fresh socketpair as its fd 3 and the exec lock (if any) as fd 4, stdin and stdout on
// /dev/null, stderr shared with the daemon, default signal dispositions and an empty mask, and
// supervisor_environment() (no UASYNCD_* variable ever reaches it or its children).
//
// posix_spawn (clone with CLONE_VM|CLONE_VFORK, then execve) copies nothing of the caller's
// threads or locks, so this is safe from any thread of a threaded daemon, unlike a bare fork.
// The supervisor's death detection does not depend on which thread started it: it watches the
// channel, which reaches EOF when the last copy of the daemon's end closes, i.e. when the
// daemon process is gone however it died (the daemon's end is close-on-exec, so no other
// program it starts holds a copy).
//
// Thread rules: any thread. Lifetime: the caller owns the returned fd and must reap the pid.
#pragma once

#include <sys/types.h>

#include <string>

namespace uasyncd::exec {

struct SupervisorChannel {
  pid_t pid = -1;
  int fd = -1;  // the daemon's end: AF_UNIX SOCK_STREAM, close-on-exec
};

// Throws std::system_error naming `program` if it cannot be started.
SupervisorChannel launch_supervisor(const std::string& program, int lock_fd);

}  // namespace uasyncd::exec
