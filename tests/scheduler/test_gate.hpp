// A wait queue with no timer behind it, built the way library awaitables are (on the awaiter
// base detail::Parking): lets a test block a task on something only the test itself can release.
#pragma once

#include <uasyncio/uasyncio.hpp>

#include <coroutine>

namespace test_support {

class Gate {
 public:
  class Awaiter : public uasyncio::detail::Parking<> {
   public:
    explicit Awaiter(Gate& gate) : gate_(gate) {}
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) { park(gate_.waiters_, h); }
    void await_resume() { raise_if_cancelled(); }

   private:
    Gate& gate_;
  };

  Awaiter operator co_await() { return Awaiter(*this); }

  // Queues every waiting task (they run at the loop's next step).
  void open() { uasyncio::detail::wake_all(uasyncio::detail::current_scheduler(), waiters_); }
  bool empty() const { return waiters_.empty(); }

 private:
  uasyncio::detail::WaitList waiters_;
};

}  // namespace test_support
