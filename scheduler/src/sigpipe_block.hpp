// SigpipeBlock (library-internal): while one lives, a write to a broken pipe in this thread
// fails with EPIPE instead of killing the process with SIGPIPE, without touching the process's
// SIGPIPE disposition. SIGPIPE is a signal sent to the thread that wrote, so blocking it in this
// thread is enough; one that our write made pending is taken back before the mask is restored.
// Sockets need none of this (send() with MSG_NOSIGNAL); pipes and libuv's own queued writes do.
// It costs a few system calls, so it guards only those.
#pragma once

#include <signal.h>

namespace uasyncio::detail {

class SigpipeBlock {
 public:
  SigpipeBlock() noexcept;
  ~SigpipeBlock();
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t old_mask_;
  bool was_pending_ = false;  // a SIGPIPE pending before is not ours to take back
};

}  // namespace uasyncio::detail
