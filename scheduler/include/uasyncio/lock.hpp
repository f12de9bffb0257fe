// Lock (§12): MicroPython's asyncio.Lock, a non-reentrant mutual exclusion lock for tasks,
// handed over in FIFO order.
//
//   co_await lock.acquire();                // true; does not yield if the lock is free
//   lock.release();
//   {
//     auto guard = co_await lock.scoped();  // Python's `async with lock:`
//     ...
//   }                                       // released here, also when an exception leaves
//   co_await ua::wait_for(lock.acquire(), 0.2);  // TimeoutError: the waiter passes the
//                                                // hand-off on if it had already been chosen
//
// Lifetime: the Lock must outlive every acquire() on it and every Guard.
// Thread rules: on the loop's thread only.
#pragma once

#include <coroutine>
#include <utility>

#include "uasyncio/detail/parking.hpp"
#include "uasyncio/detail/wait_list.hpp"

namespace uasyncio {

class Lock {
  // A waiter that release() chose as the next owner: it holds the lock from then on, even
  // before it runs.
  struct Node : detail::ParkedWaiter {
    bool granted = false;
  };

 public:
  // The awaitable of acquire(): gives true once the calling task holds the lock.
  class AcquireAwaiter : public detail::Parking<Node> {
   public:
    explicit AcquireAwaiter(Lock& lock) noexcept : lock_(&lock) {}
    bool await_ready() noexcept { return lock_->try_take(); }
    void await_suspend(std::coroutine_handle<> h) { park(lock_->waiting_, h); }
    bool await_resume() {
      if (parked()) lock_->finish_wait(node_);
      return true;
    }

   private:
    Lock* lock_;
  };

  // Releases the lock when destroyed (unless unlock() already did).
  class [[nodiscard]] Guard {
   public:
    explicit Guard(Lock& lock) noexcept : lock_(&lock) {}
    Guard(Guard&& o) noexcept : lock_(std::exchange(o.lock_, nullptr)) {}
    Guard& operator=(Guard&&) = delete;
    ~Guard() {
      if (lock_ != nullptr) lock_->release();
    }
    // Releases the lock before the guard goes out of scope.
    void unlock() { std::exchange(lock_, nullptr)->release(); }

   private:
    Lock* lock_;
  };

  // The awaitable of scoped(): gives a Guard once the calling task holds the lock.
  class ScopedAwaiter : public AcquireAwaiter {
   public:
    explicit ScopedAwaiter(Lock& lock) noexcept : AcquireAwaiter(lock), lock_(&lock) {}
    Guard await_resume() {
      AcquireAwaiter::await_resume();
      return Guard(*lock_);
    }

   private:
    Lock* lock_;
  };

  Lock() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  // §12.3, lock.locked(): false while the lock is being handed to a waiter that has not run
  // yet, although nobody else can take it in that window.
  bool locked() const noexcept { return state_ == State::locked; }
  // §12.1, `await lock.acquire()`: true once the calling task holds the lock (FIFO among
  // waiters, §12.4: no yield if it is free). A waiter cancelled after the hand-off passes the
  // lock on (§6.9).
  [[nodiscard]] AcquireAwaiter acquire() noexcept { return AcquireAwaiter(*this); }
  // `async with lock:`: a Guard that releases the lock when it goes out of scope.
  [[nodiscard]] ScopedAwaiter scoped() noexcept { return ScopedAwaiter(*this); }
  // §12.2, lock.release(): hands the lock to the first waiter, or unlocks it if none waits.
  // RuntimeError("Lock not acquired") if it is not locked.
  void release();

 private:
  enum class State : unsigned char { unlocked, locked, handed_off };

  bool try_take() noexcept {
    if (state_ != State::unlocked) return false;
    state_ = State::locked;
    return true;
  }
  void finish_wait(Node& node);

  State state_ = State::unlocked;
  detail::WaitList waiting_;
};

}  // namespace uasyncio
