#include "sigpipe_block.hpp"

#include <pthread.h>

#include <ctime>

namespace uasyncio::detail {
namespace {

sigset_t sigpipe_set() noexcept {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  return set;
}

bool sigpipe_pending() noexcept {
  sigset_t pending;
  sigemptyset(&pending);
  sigpending(&pending);
  return sigismember(&pending, SIGPIPE) == 1;
}

}  // namespace

SigpipeBlock::SigpipeBlock() noexcept {
  const sigset_t set = sigpipe_set();
  pthread_sigmask(SIG_BLOCK, &set, &old_mask_);
  was_pending_ = sigpipe_pending();
}

SigpipeBlock::~SigpipeBlock() {
  if (!was_pending_ && sigpipe_pending()) {
    const sigset_t set = sigpipe_set();
    const timespec no_wait{};
    sigtimedwait(&set, nullptr, &no_wait);
  }
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

}  // namespace uasyncio::detail
