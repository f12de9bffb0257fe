#include "uasyncio/thread_safe_flag.hpp"

#include <string>

#include "uasyncio/errors.hpp"

namespace uasyncio {

namespace {
uv_handle_t* as_handle(uv_async_t* a) {
  return reinterpret_cast<uv_handle_t*>(a);
}
}  // namespace

ThreadSafeFlag::ThreadSafeFlag() : loop_(detail::current_loop()), async_(new uv_async_t) {
  if (int rc = uv_async_init(loop_.uv_loop(), async_, &ThreadSafeFlag::on_async); rc != 0) {
    delete async_;
    throw RuntimeError(std::string("uv_async_init: ") + uv_strerror(rc));
  }
  async_->data = this;
  uv_unref(as_handle(async_));
}

ThreadSafeFlag::~ThreadSafeFlag() {
  async_->data = nullptr;
  uv_close(as_handle(async_), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
}

void ThreadSafeFlag::set() noexcept {
  // The store comes first: the callback this send triggers is then sure to see the flag, and a
  // waiter registering meanwhile either sees it in try_consume or is woken by that callback.
  flag_.store(true, std::memory_order_release);
  uv_async_send(async_);
}

void ThreadSafeFlag::on_async(uv_async_t* handle) {
  auto* self = static_cast<ThreadSafeFlag*>(handle->data);
  if (self == nullptr || self->waiting_.empty()) return;
  // A set() undone by clear() before the loop polled wakes nobody (as MicroPython's poll finds
  // the flag down).
  if (!self->flag_.exchange(false, std::memory_order_acquire)) return;
  auto* node = static_cast<Node*>(self->waiting_.front());
  node->woken = true;
  self->loop_.wake(node);
}

bool ThreadSafeFlag::try_consume() {
  if (!waiting_.empty()) throw RuntimeError("ThreadSafeFlag: another task is already waiting");
  return flag_.exchange(false, std::memory_order_acquire);
}

void ThreadSafeFlag::start_waiting(Node& node, std::coroutine_handle<> h) {
  detail::park(waiting_, node, h);
  uv_ref(as_handle(async_));
}

void ThreadSafeFlag::stop_waiting() noexcept {
  uv_unref(as_handle(async_));
}

void ThreadSafeFlag::finish_wait(Node& node) {
  stop_waiting();
  detail::TaskHeader* self = loop_.current();
  // Woken by a set() but cancelled before running: the set() is not lost, the next wait() sees
  // it (MicroPython clears the flag only when wait() returns normally).
  if (node.woken && self->error) flag_.store(true, std::memory_order_relaxed);
  detail::throw_if_pending(loop_);
}

}  // namespace uasyncio
