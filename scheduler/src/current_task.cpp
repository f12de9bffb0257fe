#include "uasyncio/current_task.hpp"

#include "uasyncio/detail/scheduler.hpp"
#include "uasyncio/errors.hpp"

namespace uasyncio {

AnyTask current_task() {
  detail::TaskHeader* t = detail::current_scheduler().current();
  if (t == nullptr) throw RuntimeError("no running event loop");
  return AnyTask(t);
}

}  // namespace uasyncio
