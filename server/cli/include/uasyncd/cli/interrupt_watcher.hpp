// Ctrl-C (SIGINT) and SIGTERM as events rather than death, for a command that must act on them
// (`run` cancels its task on the first, detaches on the second).
#pragma once

#include <signal.h>

#include <atomic>
#include <functional>
#include <thread>

namespace uasyncd::cli {

// While it lives, SIGINT and SIGTERM are blocked in the thread that made it (and in every thread
// started after), and each one that arrives calls `on_signal(n)` on the watcher's own thread,
// n = 1 for the first, 2 for the second, ... Create it before any other thread, destroy it on the
// thread that made it; the destructor joins the watcher and restores the signal mask.
class InterruptWatcher {
 public:
  explicit InterruptWatcher(std::function<void(int count)> on_signal);
  ~InterruptWatcher();
  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;

 private:
  void watch();

  std::function<void(int)> on_signal_;
  sigset_t signals_;
  sigset_t previous_mask_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace uasyncd::cli
