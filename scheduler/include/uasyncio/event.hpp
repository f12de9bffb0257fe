// Event (§11): MicroPython's asyncio.Event, a flag tasks can wait on; set() wakes every waiter.
//
//   ua::Event ev;
//   co_await ev.wait();                 // true; does not yield if the event is already set
//   co_await ua::wait_for(ev.wait(), 1); // TimeoutError after 1 s (the waiter is removed)
//   ev.set();                           // from another task of the same loop
//
// Lifetime: the Event must outlive every wait() on it (an awaiter refers to it). A task still
// waiting when the Event is destroyed is never woken; the loop destroys it at its reset.
// Thread rules: on the loop's thread only (use ThreadSafeFlag from other threads).
#pragma once

#include <coroutine>

#include "uasyncio/detail/parking.hpp"
#include "uasyncio/detail/wait_list.hpp"

namespace uasyncio {

class Event {
 public:
  // The awaitable of wait(): gives true once the event is set.
  class Awaiter : public detail::Parking<> {
   public:
    explicit Awaiter(Event& ev) noexcept : ev_(&ev) {}
    bool await_ready() const noexcept { return ev_->set_; }  // §11.3: no yield when set
    void await_suspend(std::coroutine_handle<> h) { park(ev_->waiters_, h); }
    bool await_resume() {
      raise_if_cancelled();
      return true;
    }

   private:
    Event* ev_;
  };

  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  // event.is_set()
  bool is_set() const noexcept { return set_; }
  // §11.2, event.set(): every task waiting now is queued to run (in the order they started
  // waiting); tasks that wait after this return at once until clear().
  void set();
  // event.clear(): only lowers the flag: tasks already woken by set() still resume.
  void clear() noexcept { set_ = false; }
  // §11.1, `await event.wait()`: true once the event is set. Cancelling the waiting task (or a
  // wait_for timeout) removes it from the event (§11.4).
  [[nodiscard]] Awaiter wait() noexcept { return Awaiter(*this); }

 private:
  detail::WaitList waiters_;
  bool set_ = false;
};

}  // namespace uasyncio
