#include "uasyncio/event.hpp"

namespace uasyncio {

void Event::set() {
  set_ = true;
  if (waiters_.empty()) return;
  Loop& loop = detail::current_loop();
  while (detail::Waiter* w = waiters_.front())
    loop.wake(w);
}

}  // namespace uasyncio
