// The exec supervisor's main loop, in its own process (the daemon's binary run again with
// kSupervisorFlag, see supervisor_main.hpp).
//
// It is a child subreaper that owns every exec process of one daemon: on a spawn request it
// forks a step keeper (step_keeper.hpp), which starts the command; it relays signals to the
// keepers, forwards their reports to the daemon, reaps them, and kills orphans a keeper left.
// When its channel to the daemon closes (the daemon exited or was killed, even by SIGKILL), on
// SIGTERM, or on a malformed frame, it kills every step (each keeper kills its command's group
// and every descendant), sweeps anything left below it, and exits. SIGINT, SIGHUP, SIGQUIT and
// SIGPIPE are ignored: a Ctrl-C in the daemon's terminal is the daemon's to handle (gracefully).
//
// Lifetime: the process's. Thread rules: single-threaded, by design (it forks).
#pragma once

namespace uasyncd::exec::detail {

// `channel_fd`: the supervisor's end of the socketpair; `lock_fd`: the run's exec lock
// (exec_lock.hpp), or -1. Returns the process's exit status.
int run_supervisor(int channel_fd, int lock_fd);

}  // namespace uasyncd::exec::detail
