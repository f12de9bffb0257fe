// AnyTask's operations that need the scheduler or the exception classes.
#include "uasyncio/any_task.hpp"

#include "uasyncio/detail/scheduler.hpp"
#include "uasyncio/errors.hpp"

namespace uasyncio {

bool AnyTask::cancel() const {
  return detail::current_scheduler().cancel(header());
}

bool AnyTask::cancelled() const noexcept {
  const detail::TaskHeader* h = header();
  return h->finished && classify(h->error).kind == ErrorKind::cancelled;
}

bool AnyTask::is_current() const noexcept {
  const detail::Scheduler* s = detail::this_thread_scheduler;
  return s != nullptr && header() != nullptr && s->current() == header();
}

}  // namespace uasyncio
