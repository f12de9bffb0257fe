#include "uasyncd/cli/interrupt_watcher.hpp"

#include <pthread.h>

#include <utility>

namespace uasyncd::cli {

InterruptWatcher::InterruptWatcher(std::function<void(int count)> on_signal)
    : on_signal_(std::move(on_signal)) {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals_, &previous_mask_);
  thread_ = std::thread([this] { watch(); });
}

InterruptWatcher::~InterruptWatcher() {
  stopping_ = true;
  // Wakes the sigwait below; the flag tells it this one is not the user's.
  pthread_kill(thread_.native_handle(), SIGTERM);
  thread_.join();
  pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
}

void InterruptWatcher::watch() {
  int count = 0;
  for (;;) {
    int sig = 0;
    if (sigwait(&signals_, &sig) != 0) continue;
    if (stopping_) return;
    on_signal_(++count);
  }
}

}  // namespace uasyncd::cli
