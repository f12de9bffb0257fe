#include "uasyncio/gather.hpp"

#include "uasyncio/errors.hpp"

namespace uasyncio::detail {

bool GatherCore::await_ready() {
  remaining_ = count_;
  for (std::size_t i = 0; i < count_; ++i) {
    TaskHeader* t = child(i);
    if (!t->finished) {
      if (t->in_gather || !t->awaiters.empty()) {
        deregister(i, false);
        throw RuntimeError("can't gather");  // §10.2
      }
      t->set_gather(this);
      continue;
    }
    // §10.4: a child that already finished gives its outcome at once; a failed one (without
    // return_exceptions) is raised without waiting for the rest, but only once every child was
    // checked for "can't gather" (as MicroPython does). It is not marked retrieved.
    if (t->error && !return_exceptions_ && !first_error_) first_error_ = t->error;
    --remaining_;
  }
  if (first_error_) {
    deregister(count_, false);
    return true;
  }
  return remaining_ == 0;
}

void GatherCore::await_suspend(std::coroutine_handle<> h) {
  park(waiting_, h);
  listening_ = true;
}

void GatherCore::child_done(TaskHeader* child) {
  // Not linked any more: a cancel already woke the gathering task (MicroPython's done() sees
  // `gather_task.data is not _Remove`); its await_resume deals with the children.
  if (!listening_ || !node_.linked()) return;
  if (child->error && !return_exceptions_) {
    first_error_ = child->error;
  } else if (--remaining_ != 0) {
    return;
  }
  listening_ = false;
  current_scheduler().wake(&node_);
}

void GatherCore::await_resume() {
  listening_ = false;
  std::exception_ptr cancelled;
  if (parked()) cancelled = std::exchange(current_scheduler().current()->error, nullptr);
  // §10.7: children still running are left to run, detached; §10.8: cancelling the gather
  // cancels them.
  deregister(count_, cancelled != nullptr);
  if (cancelled) std::rethrow_exception(cancelled);
  if (first_error_) std::rethrow_exception(first_error_);
}

void GatherCore::deregister(std::size_t upto, bool cancel) {
  for (std::size_t i = 0; i < upto; ++i) {
    TaskHeader* t = child(i);
    if (!t->in_gather || t->gather != this) continue;
    t->clear_gather();
    if (cancel) current_scheduler().cancel(t);
  }
}

}  // namespace uasyncio::detail
