// Lock (§12): a non-reentrant mutual exclusion lock for tasks, handed over in FIFO order.
//
//   co_await lock.acquire();             // returns true; does not yield if the lock is free
//   lock.release();
//   {
//     auto guard = co_await lock.scoped();  // Python's `async with lock:`
//     ...
//   }                                     // released here, also when an exception leaves
#pragma once

#include <coroutine>
#include <utility>

#include "uasyncio/detail/park.hpp"
#include "uasyncio/detail/wait_list.hpp"
#include "uasyncio/loop.hpp"

namespace uasyncio {

class Lock {
  // A waiter that release() chose as the next owner: it holds the lock from then on, even
  // before it runs.
  struct Node : detail::Waiter {
    Node() : Waiter(nullptr) {}
    bool granted = false;
  };

 public:
  class AcquireAwaiter {
   public:
    explicit AcquireAwaiter(Lock& lock) noexcept : lock_(lock) {}
    bool await_ready() noexcept { return lock_.try_take(); }
    void await_suspend(std::coroutine_handle<> h) { detail::park(lock_.waiting_, node_, h); }
    bool await_resume() {
      if (node_.task != nullptr) lock_.finish_wait(node_);
      return true;
    }

   private:
    Lock& lock_;
    Node node_;
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

  class ScopedAwaiter {
   public:
    explicit ScopedAwaiter(Lock& lock) noexcept : lock_(lock), acquire_(lock) {}
    bool await_ready() noexcept { return acquire_.await_ready(); }
    void await_suspend(std::coroutine_handle<> h) { acquire_.await_suspend(h); }
    Guard await_resume() {
      acquire_.await_resume();
      return Guard(lock_);
    }

   private:
    Lock& lock_;
    AcquireAwaiter acquire_;
  };

  Lock() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  // §12.3: false while the lock is being handed to a waiter that has not run yet, although
  // nobody else can take it in that window.
  bool locked() const noexcept { return state_ == State::locked; }
  // Awaitable returning true once the calling task holds the lock (FIFO among waiters).
  [[nodiscard]] AcquireAwaiter acquire() noexcept { return AcquireAwaiter(*this); }
  // Awaitable giving a Guard that releases the lock when it goes out of scope.
  [[nodiscard]] ScopedAwaiter scoped() noexcept { return ScopedAwaiter(*this); }
  // Hands the lock to the first waiter, or unlocks it if none waits.
  // RuntimeError("Lock not acquired") if it is not locked (§12.2).
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
