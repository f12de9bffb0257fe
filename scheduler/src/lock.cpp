#include "uasyncio/lock.hpp"

#include "uasyncio/errors.hpp"

namespace uasyncio {

void Lock::release() {
  if (state_ != State::locked) throw RuntimeError("Lock not acquired");
  detail::Waiter* next = waiting_.front();
  if (next == nullptr) {
    state_ = State::unlocked;
    return;
  }
  // The waiter owns the lock from here on, so no task that runs before it can take it.
  static_cast<Node*>(next)->granted = true;
  state_ = State::handed_off;
  detail::current_scheduler().wake(next);
}

void Lock::finish_wait(Node& node) {
  detail::Scheduler& s = detail::current_scheduler();
  if (node.granted) {
    state_ = State::locked;
    // §6.9: cancelled after the lock was handed over: pass it on before raising.
    if (s.current()->error) release();
  }
  detail::throw_if_pending();
}

}  // namespace uasyncio
