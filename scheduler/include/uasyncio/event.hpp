// Event (§11): a flag tasks can wait on; set() wakes every waiter at once.
//
//   ua::Event ev;
//   co_await ev.wait();  // returns true; does not yield if the event is already set
//   ev.set();            // from another task of the same loop
#pragma once

#include <coroutine>

#include "uasyncio/detail/park.hpp"
#include "uasyncio/detail/wait_list.hpp"
#include "uasyncio/loop.hpp"

namespace uasyncio {

class Event {
 public:
  class Awaiter {
   public:
    explicit Awaiter(Event& ev) noexcept : ev_(ev) {}
    bool await_ready() const noexcept { return ev_.set_; }  // §11.3: no yield when set
    void await_suspend(std::coroutine_handle<> h) { detail::park(ev_.waiters_, waiter_, h); }
    bool await_resume() {
      if (waiter_.task != nullptr) detail::throw_if_pending(detail::current_loop());
      return true;
    }

   private:
    Event& ev_;
    detail::Waiter waiter_{nullptr};
  };

  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  bool is_set() const noexcept { return set_; }
  // §11.2: every task waiting now is queued to run (in the order they started waiting); tasks
  // that wait after this return at once until clear().
  void set();
  // Only lowers the flag: tasks already woken by set() still resume.
  void clear() noexcept { set_ = false; }
  // Awaitable returning true once the event is set. Cancelling the waiting task removes it from
  // the event (§11.4).
  [[nodiscard]] Awaiter wait() noexcept { return Awaiter(*this); }

 private:
  detail::WaitList waiters_;
  bool set_ = false;
};

}  // namespace uasyncio
