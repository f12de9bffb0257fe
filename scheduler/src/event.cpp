#include "uasyncio/event.hpp"

namespace uasyncio {

void Event::set() {
  set_ = true;
  if (waiters_.empty()) return;
  detail::wake_all(detail::current_scheduler(), waiters_);
}

}  // namespace uasyncio
