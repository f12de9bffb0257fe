// A wait queue with no timer behind it, built the way library awaitables are (intrusive Waiter in
// the awaiting frame, waiting_on set so cancel() can unlink it): lets a test block a task on
// something only the test itself can release.
#pragma once

#include <uasyncio/uasyncio.hpp>

#include <coroutine>

namespace test_support {

class Gate {
 public:
  class Awaiter {
   public:
    explicit Awaiter(Gate& gate) : gate_(gate) {}
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
      uasyncio::Loop& loop = uasyncio::detail::current_loop();
      uasyncio::detail::TaskHeader* self = loop.current();
      waiter_.task = self;
      gate_.waiters_.push_back(&waiter_);
      self->waiting_on = &waiter_;
      self->resume_point = h;
    }
    void await_resume() { uasyncio::detail::throw_if_pending(uasyncio::detail::current_loop()); }

   private:
    Gate& gate_;
    uasyncio::detail::Waiter waiter_{nullptr};
  };

  Awaiter operator co_await() { return Awaiter(*this); }

  // Queues every waiting task (they run at the loop's next step).
  void open() {
    while (uasyncio::detail::Waiter* w = waiters_.front())
      uasyncio::get_event_loop().wake(w);
  }
  bool empty() const { return waiters_.empty(); }

 private:
  uasyncio::detail::WaitList waiters_;
};

// A task whose run() was abandoned (an exception left it linked to a task that will never wake
// it, §1.4/§4.5a) is in no queue, so nothing would ever free its frame; this queues it again so
// a later run can finish it.
inline void requeue_frozen(const uasyncio::AnyTask& t) {
  if (uasyncio::detail::Waiter* w = t.header()->waiting_on) uasyncio::get_event_loop().wake(w);
}

}  // namespace test_support
