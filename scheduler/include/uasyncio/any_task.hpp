// AnyTask: a reference-counted handle to a task whose result type is not known here (what
// current_task() returns). Task<T> extends it with typed access to the result.
#pragma once

#include <cstddef>
#include <functional>
#include <utility>

#include "uasyncio/detail/task_header.hpp"

namespace uasyncio {

class AnyTask {
 public:
  AnyTask() = default;
  explicit AnyTask(detail::TaskHeader* h) noexcept : h_(h) {
    if (h_ != nullptr) detail::add_ref(h_);
  }
  // Takes over a reference already counted in `h` (create_task counts it with the scheduler's).
  AnyTask(detail::TaskHeader* h, detail::AdoptRef) noexcept : h_(h) {}
  AnyTask(const AnyTask& o) noexcept : AnyTask(o.h_) {}
  AnyTask(AnyTask&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  AnyTask& operator=(AnyTask o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }
  ~AnyTask() {
    if (h_ != nullptr) detail::release(h_);
  }

  // §6: false if the task already finished; otherwise the task (or, if it awaits another task,
  // the innermost one) is woken with CancelledError at its await point, and true is returned.
  // Throws RuntimeError("can't cancel self") when called by the task itself.
  bool cancel() const;
  // True once the task has finished (returned, raised, or was cancelled).
  bool done() const noexcept { return h_->finished; }
  // The exception that ended the task, or null (only meaningful once done()).
  std::exception_ptr exception() const noexcept { return h_->finished ? h_->error : nullptr; }
  // True if the task ended with CancelledError.
  bool cancelled() const noexcept;

  explicit operator bool() const noexcept { return h_ != nullptr; }
  friend bool operator==(const AnyTask& a, const AnyTask& b) noexcept { return a.h_ == b.h_; }

  detail::TaskHeader* header() const noexcept { return h_; }

 protected:
  detail::TaskHeader* h_ = nullptr;
};

}  // namespace uasyncio

template <>
struct std::hash<uasyncio::AnyTask> {
  std::size_t operator()(const uasyncio::AnyTask& t) const noexcept {
    return std::hash<const void*>{}(t.header());
  }
};
