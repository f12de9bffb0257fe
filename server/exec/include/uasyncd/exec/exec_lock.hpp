// The exec lock of a data directory: an flock(2) on <data_dir>/exec.lock, taken by the daemon at
// start and inherited by its exec supervisor and every step keeper (one open file shared by all
// of them). It is free only once no process of that run is left that could still run or hold a
// step, so a daemon restarted on the same directory knows when the previous run's processes are
// all gone, and never starts a task's retry next to its first attempt. The file also holds the
// supervisor's pid (it writes it there), for an operator.
//
// acquire() waits for a previous run to finish its sweep (its supervisor kills everything within
// milliseconds of its daemon's death), then stops whatever still holds the lock: SIGTERM (each
// keeper kills its step, the supervisor sweeps), then SIGKILL, then it gives up with an error.
// Call it only once the data directory is known to be ours (the task database is open and
// locked), or it would stop a live daemon's steps.
//
// Without a data directory (--ephemeral) there is no lock: several such daemons may run side by
// side, and a previous one's tasks are gone with it, so nothing could be run twice.
//
// Lifetime: the lock is held until the ExecLock and every process that inherited it are gone.
// Thread rules: acquire() blocks (up to the sum of the limits); the object is immutable after.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace uasyncd::exec {

struct ReclaimLimits {
  std::chrono::milliseconds wait{2000};  // for the previous run to release it by itself
  std::chrono::milliseconds term{2000};  // after SIGTERM to the holders
  std::chrono::milliseconds kill{1000};  // after SIGKILL to the holders
};

class ExecLock {
 public:
  // Takes the lock at `path` (created 0600 if missing). `warn` hears about a previous run's
  // processes it had to stop. Throws std::runtime_error naming the path and the holders when
  // the lock cannot be had.
  static ExecLock acquire(const std::string& path, const ReclaimLimits& limits = {},
                          const std::function<void(const std::string&)>& warn = {});

  ExecLock(ExecLock&& o) noexcept;
  ExecLock& operator=(ExecLock&& o) noexcept;
  ExecLock(const ExecLock&) = delete;
  ExecLock& operator=(const ExecLock&) = delete;
  ~ExecLock();

  // The locked file, for the supervisor to inherit (SupervisorOptions::lock_fd).
  int fd() const noexcept { return fd_; }
  const std::string& path() const noexcept { return path_; }

 private:
  ExecLock(int fd, std::string path) noexcept : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

// Every process but this one whose descriptor of `path` holds the flock (from /proc/*/fdinfo),
// so that a process merely reading the file is never signalled; on a kernel that does not show
// locks there, every process with it open.
std::vector<pid_t> processes_holding(const std::string& path);

}  // namespace uasyncd::exec
