// AnyTask: a handle to a task whose result type is not known here (what current_task() returns,
// MicroPython's Task object, §2). Task<T> extends it with typed access to the result.
//
// Lifetime: a handle keeps the task's frame alive (reference counted; copies share the task).
// The loop holds its own reference until the task has finished, so a task runs to its end
// whether or not any handle is kept; the frame goes with the last handle after that.
// Thread rules: handles belong to the thread of the task's loop.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <utility>

#include "uasyncio/detail/intrusive_ptr.hpp"
#include "uasyncio/detail/task_header.hpp"

namespace uasyncio {

class AnyTask {
 public:
  // An empty handle (refers to no task).
  AnyTask() = default;
  explicit AnyTask(detail::TaskHeader* h) noexcept : ref_(h) {}
  // Takes over a reference already counted in `h` (create_task counts it with the scheduler's).
  AnyTask(detail::TaskHeader* h, detail::AdoptRef a) noexcept : ref_(h, a) {}

  // §6, task.cancel(): false if the task already finished; otherwise the task (or, if it awaits
  // another task, the innermost one) is woken with CancelledError at its await point, and true
  // is returned. RuntimeError("can't cancel self") when called by the task itself.
  bool cancel() const;
  // §2.1, task.done(): true once the task has finished (returned, raised, or was cancelled).
  bool done() const noexcept { return ref_->finished; }
  // The exception that ended the task, or null (only meaningful once done()).
  std::exception_ptr exception() const noexcept { return ref_->finished ? ref_->error : nullptr; }
  // True if the task ended with CancelledError.
  bool cancelled() const noexcept;
  // True if this is the task running now (`t is current_task()`); false outside any task.
  bool is_current() const noexcept;

  explicit operator bool() const noexcept { return static_cast<bool>(ref_); }
  friend bool operator==(const AnyTask& a, const AnyTask& b) noexcept { return a.ref_ == b.ref_; }

  // The task's bookkeeping (library-internal).
  detail::TaskHeader* header() const noexcept { return ref_.get(); }

 private:
  detail::IntrusivePtr<detail::TaskHeader> ref_;
};

}  // namespace uasyncio

template <>
struct std::hash<uasyncio::AnyTask> {
  std::size_t operator()(const uasyncio::AnyTask& t) const noexcept {
    return std::hash<const void*>{}(t.header());
  }
};
