// Queue<T>: CPython's asyncio.Queue (MicroPython has none). FIFO of items between tasks of one
// loop, optionally bounded; blocked put() and get() calls are served in the order they blocked.
//
//   ua::Queue<int> q(10);           // maxsize 10 (0: unbounded)
//   co_await q.put(1);              // waits while the queue is full
//   int v = co_await q.get();       // waits while it is empty
//   q.task_done();                  // one per item got, when done with it
//   co_await q.join();              // until every item put has been marked done
//
// Fairness: an item put while a task waits in get() is handed to that task at once, and a slot
// freed while a task waits in put() is reserved for it, so a task that comes later cannot take
// them first. In that hand-off window get_nowait() may raise QueueEmpty although qsize() > 0,
// and full() counts the reserved slots (as Lock::locked() is false during its hand-off).
//
// Cancellation: a get() that raises CancelledError got no item (one already handed to it goes
// to the next waiting get(), or back to the front of the queue; an item put between the hand-off
// and the cancelled task's resumption may thus overtake it); a put() that raises CancelledError
// put nothing. The same holds when the cancel is wait_for's timeout:
//   int v = co_await ua::wait_for_ms(q.get(), 500);  // TimeoutError: no item was lost
//
// Lifetime: the Queue must outlive every get/put/join on it. Items are moved in and out.
// Thread rules: on the loop's thread only.
#pragma once

#include <coroutine>
#include <cstddef>
#include <deque>
#include <exception>
#include <optional>
#include <utility>

#include "uasyncio/detail/parking.hpp"
#include "uasyncio/detail/wait_list.hpp"
#include "uasyncio/errors.hpp"
#include "uasyncio/event.hpp"

namespace uasyncio {

// Raised by Queue::get_nowait() when no item is available.
class QueueEmpty : public std::exception {
 public:
  const char* what() const noexcept override { return "QueueEmpty"; }
};

// Raised by Queue::put_nowait() when the queue has no free slot.
class QueueFull : public std::exception {
 public:
  const char* what() const noexcept override { return "QueueFull"; }
};

template <class T>
class Queue {
  struct Getter : detail::ParkedWaiter {
    std::optional<T> item;  // handed over by a put while this getter waited
  };
  struct Putter : detail::ParkedWaiter {
    bool granted = false;  // a slot is reserved for it
  };

 public:
  // The awaitable of get(): gives the oldest item.
  class GetAwaiter : public detail::Parking<Getter> {
   public:
    explicit GetAwaiter(Queue& q) noexcept : q_(&q) {}
    bool await_ready() {
      if (q_->items_.empty()) return false;
      this->node_.item.emplace(q_->take_front());
      return true;
    }
    void await_suspend(std::coroutine_handle<> h) { this->park(q_->getters_, h); }
    T await_resume() {
      if (this->parked()) q_->finish_get(this->node_);
      return std::move(*this->node_.item);
    }

   private:
    Queue* q_;
  };

  // The awaitable of put(item).
  class PutAwaiter : public detail::Parking<Putter> {
   public:
    PutAwaiter(Queue& q, T item) : q_(&q), item_(std::move(item)) {}
    bool await_ready() {
      if (q_->full()) return false;
      q_->deliver(std::move(item_));
      return true;
    }
    void await_suspend(std::coroutine_handle<> h) { this->park(q_->putters_, h); }
    void await_resume() {
      if (this->parked()) q_->finish_put(this->node_, item_);
    }

   private:
    Queue* q_;
    T item_;
  };

  // The awaitable of join().
  class JoinAwaiter : public Event::Awaiter {
   public:
    explicit JoinAwaiter(Event& finished) noexcept : Event::Awaiter(finished) {}
    void await_resume() { Event::Awaiter::await_resume(); }
  };

  explicit Queue(std::size_t maxsize = 0) : maxsize_(maxsize) { finished_.set(); }
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  std::size_t maxsize() const noexcept { return maxsize_; }
  // Items put and not yet received by a getter (including those handed to a woken getter that
  // has not run yet).
  std::size_t qsize() const noexcept { return items_.size() + in_flight_; }
  bool empty() const noexcept { return qsize() == 0; }
  // True when put_nowait() would raise QueueFull; never for an unbounded queue.
  bool full() const noexcept { return maxsize_ != 0 && qsize() + reserved_ >= maxsize_; }

  // `await q.put(item)`: puts `item`, first waiting for a free slot if the queue is full.
  [[nodiscard]] PutAwaiter put(T item) { return PutAwaiter(*this, std::move(item)); }
  // `await q.get()`: the oldest item, first waiting for one if the queue is empty.
  [[nodiscard]] GetAwaiter get() noexcept { return GetAwaiter(*this); }
  // q.put_nowait(item): puts `item` or raises QueueFull.
  void put_nowait(T item) {
    if (full()) throw QueueFull();
    deliver(std::move(item));
  }
  // q.get_nowait(): takes the oldest item or raises QueueEmpty.
  T get_nowait() {
    if (items_.empty()) throw QueueEmpty();
    return take_front();
  }

  // q.task_done(): marks one item got earlier as processed; ValueError if called more times
  // than items were put.
  void task_done() {
    if (unfinished_ == 0) throw ValueError("task_done() called too many times");
    if (--unfinished_ == 0) finished_.set();
  }
  // `await q.join()`: waits until every item put so far has been marked by task_done().
  [[nodiscard]] JoinAwaiter join() noexcept { return JoinAwaiter(finished_); }

 private:
  // A new item: counted for join(), then handed to the first waiting getter or queued.
  void deliver(T&& item) {
    ++unfinished_;
    finished_.clear();
    give(std::move(item), false);
  }

  void give(T&& item, bool at_front) {
    if (detail::Waiter* w = getters_.front()) {
      auto* getter = static_cast<Getter*>(w);
      getter->item.emplace(std::move(item));
      ++in_flight_;
      detail::current_scheduler().wake(getter);
    } else if (at_front) {
      items_.push_front(std::move(item));
    } else {
      items_.push_back(std::move(item));
    }
  }

  T take_front() {
    T item = std::move(items_.front());
    items_.pop_front();
    wake_putters();
    return item;
  }

  // Reserves the free slots for waiting putters, in the order they blocked.
  void wake_putters() {
    while (detail::Waiter* w = putters_.front()) {
      if (maxsize_ != 0 && qsize() + reserved_ >= maxsize_) break;
      static_cast<Putter*>(w)->granted = true;
      ++reserved_;
      detail::current_scheduler().wake(w);
    }
  }

  void finish_get(Getter& node) {
    detail::Scheduler& s = detail::current_scheduler();
    if (node.item) {
      --in_flight_;
      if (!s.current()->error) {
        wake_putters();
        return;
      }
      // Cancelled after an item was handed over: it was the oldest, so it goes first.
      give(std::move(*node.item), true);
      node.item.reset();
    }
    detail::throw_if_pending();
  }

  void finish_put(Putter& node, T& item) {
    detail::Scheduler& s = detail::current_scheduler();
    if (node.granted) {
      --reserved_;
      if (!s.current()->error) {
        deliver(std::move(item));
        return;
      }
      wake_putters();  // the reserved slot goes to the next putter
    }
    detail::throw_if_pending();
  }

  std::size_t maxsize_;
  std::deque<T> items_;
  std::size_t in_flight_ = 0;  // items handed to woken getters that have not run yet
  std::size_t reserved_ = 0;   // slots reserved for woken putters that have not run yet
  std::size_t unfinished_ = 0;
  detail::WaitList getters_;  // only non-empty while items_ is empty
  detail::WaitList putters_;  // only non-empty while full()
  Event finished_;
};

}  // namespace uasyncio
