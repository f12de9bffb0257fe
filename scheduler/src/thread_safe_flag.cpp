#include "uasyncio/thread_safe_flag.hpp"

#include <string>

#include "uasyncio/detail/uv_close.hpp"
#include "uasyncio/errors.hpp"

namespace uasyncio {

ThreadSafeFlag::ThreadSafeFlag() : scheduler_(detail::current_scheduler()), async_(new uv_async_t) {
  if (int rc = uv_async_init(scheduler_.uv_loop(), async_, &ThreadSafeFlag::on_async); rc != 0) {
    delete async_;
    throw RuntimeError(std::string("uv_async_init: ") + uv_strerror(rc));
  }
  async_->data = this;
  uv_unref(detail::as_uv_handle(async_));
  watch_.poll = &ThreadSafeFlag::poll;
  watch_.flag = this;
}

ThreadSafeFlag::~ThreadSafeFlag() {
  scheduler_.unwatch(watch_);
  async_->data = nullptr;
  detail::close_and_delete(async_);
}

void ThreadSafeFlag::set() noexcept {
  // The store comes first: the poll (or the callback this send triggers) is then sure to see
  // the flag, and a waiter registering meanwhile either sees it in try_consume or is woken by it.
  flag_.store(true, std::memory_order_release);
  if (detail::this_thread_scheduler == &scheduler_ && scheduler_.current() != nullptr) {
    // From a task of the loop: the scheduler looks at the flag before its next step.
    if (!waiting_.empty()) scheduler_.poll_before_next_step();
    return;
  }
  // From another thread, or from a libuv callback while the loop may be about to block.
  uv_async_send(async_);
}

void ThreadSafeFlag::on_async(uv_async_t* handle) {
  if (auto* self = static_cast<ThreadSafeFlag*>(handle->data)) self->wake_if_set();
}

void ThreadSafeFlag::poll(detail::PollSource* source) {
  static_cast<Watch*>(source)->flag->wake_if_set();
}

void ThreadSafeFlag::wake_if_set() noexcept {
  if (waiting_.empty()) return;
  // A set() undone by clear() before the loop looked wakes nobody (as MicroPython's poll finds
  // the flag down).
  if (!flag_.exchange(false, std::memory_order_acquire)) return;
  auto* node = static_cast<Node*>(waiting_.front());
  node->woken = true;
  scheduler_.wake(node);
  scheduler_.unwatch(watch_);
}

bool ThreadSafeFlag::try_consume() {
  if (!waiting_.empty()) throw RuntimeError("ThreadSafeFlag: another task is already waiting");
  return flag_.exchange(false, std::memory_order_acquire);
}

void ThreadSafeFlag::start_waiting(Awaiter& awaiter, std::coroutine_handle<> h) {
  awaiter.park(waiting_, h);
  uv_ref(detail::as_uv_handle(async_));
  scheduler_.watch(watch_);
}

void ThreadSafeFlag::stop_waiting() noexcept {
  uv_unref(detail::as_uv_handle(async_));
  scheduler_.unwatch(watch_);
}

void ThreadSafeFlag::finish_wait(Node& node) {
  stop_waiting();
  detail::TaskHeader* self = scheduler_.current();
  // Woken by a set() but cancelled before running: the set() is not lost, the next wait() sees
  // it (MicroPython clears the flag only when wait() returns normally).
  if (node.woken && self->error) flag_.store(true, std::memory_order_relaxed);
  detail::throw_if_pending();
}

}  // namespace uasyncio
