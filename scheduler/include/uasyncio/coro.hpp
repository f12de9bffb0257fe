// Coro<T>: the return type of a coroutine function (Python's `async def`). Lazy and move-only:
// nothing runs until it is awaited (inline, in the awaiting task, §7.4) or made a task
// (create_task, gather, wait_for).
//
//   ua::Coro<int> twice(int x) { co_await ua::sleep_ms(1); co_return 2 * x; }
//   int v = co_await twice(21);          // runs inline in the awaiting task
//   ua::Task<int> t = ua::create_task(twice(21));  // runs as its own task
//
// Lifetime: a Coro owns its frame until it is awaited to the end, or given to create_task
// (which takes the frame over); dropping an unstarted Coro destroys the frame, and nothing of
// its body runs. Arguments are copied into the frame: a reference parameter must refer to
// something that outlives the coroutine's run (pass by value when in doubt).
// Thread rules: a coroutine runs on the thread of the loop that runs its task.
//
// The result type T must not be over-aligned (alignof(T) <= 16): g++ 12 allocates coroutine
// frames with operator new(size) and does not align them further, so an over-aligned result
// would sit misaligned in the frame. It is rejected at compile time; return it boxed
// (std::unique_ptr<T>) instead.
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <new>
#include <type_traits>
#include <utility>

#include "uasyncio/detail/frame_allocator.hpp"
#include "uasyncio/detail/scheduler.hpp"
#include "uasyncio/detail/task_header.hpp"

namespace uasyncio {

template <class T = void>
class Coro;

namespace detail {

struct PromiseBase : TaskHeader {
  // Every coroutine frame (a task's one allocation) comes from the thread's frame pool.
  static void* operator new(std::size_t n) {
    if constexpr (kFramePoolEnabled) return frame_pool_of_thread.allocate(n);
    return ::operator new(n);
  }
  static void operator delete(void* p, std::size_t n) noexcept {
    if constexpr (kFramePoolEnabled) {
      frame_pool_of_thread.deallocate(p, n);
    } else {
      ::operator delete(p, n);
    }
  }

  std::suspend_always initial_suspend() noexcept { return {}; }

  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) noexcept {
      PromiseBase& p = h.promise();
      if (p.is_task) {
        current_scheduler().finish_task(&p);
      } else if (p.parent_waiting) {
        // The parent suspended on us, so it is not on the stack: let the scheduler's trampoline
        // resume it rather than nesting a resume here (g++ 12 does not turn symmetric transfer
        // into a tail call at -O0 or under ASan).
        TaskHeader* task = current_scheduler().current();
        task->resume_point = p.resume_point;
        task->bounce = true;
      }
    }
    void await_resume() const noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { error = std::current_exception(); }
};

template <class T>
struct Promise : PromiseBase {
  static_assert(alignof(T) <= 16,
                "uasyncio: a coroutine's result type must not be over-aligned (alignof > 16): "
                "g++ 12 does not align coroutine frames beyond 16 bytes; return it boxed "
                "(std::unique_ptr<T>)");
  Promise() {}  // NOLINT: `value` is constructed by return_value
  ~Promise() {
    if (has_value) value.~T();
  }
  Coro<T> get_return_object() noexcept;
  template <class U>
  void return_value(U&& v) {
    ::new (static_cast<void*>(&value)) T(std::forward<U>(v));
    has_value = true;
  }
  union {
    T value;
  };
};

template <>
struct Promise<void> : PromiseBase {
  Coro<void> get_return_object() noexcept;
  void return_void() noexcept { has_value = true; }
};

// destroy_task_frame assumes a promise aligned to at most 16 bytes; Promise<T> checks T.
static_assert(alignof(Promise<long double>) <= 16, "frame layout assumption of destroy_task_frame");

}  // namespace detail

template <class T>
class [[nodiscard]] Coro {
 public:
  using promise_type = detail::Promise<T>;
  using value_type = T;
  using handle_type = std::coroutine_handle<promise_type>;

  explicit Coro(handle_type h) noexcept : h_(h) {}
  Coro(Coro&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  Coro& operator=(Coro&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }
  ~Coro() {
    if (h_) h_.destroy();
  }

  // Gives up ownership of the frame (create_task takes it).
  handle_type release() noexcept { return std::exchange(h_, nullptr); }
  // False once moved from or released.
  bool valid() const noexcept { return static_cast<bool>(h_); }

  // §7.4, `await coro()`: runs the coroutine inline in the awaiting task; gives its value or
  // rethrows its exception.
  class Awaiter {
   public:
    explicit Awaiter(handle_type h) noexcept : h_(h) {}
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> parent) {
      promise_type& p = h_.promise();
      p.resume_point = parent;
      // Run the child right here: if it finishes without suspending, the parent just goes on
      // (no suspension, no stack growth however many such awaits run in a loop).
      h_.resume();
      if (h_.done()) return false;
      p.parent_waiting = true;
      return true;
    }
    T await_resume() {
      promise_type& p = h_.promise();
      if (p.error) std::rethrow_exception(p.error);
      if constexpr (!std::is_void_v<T>) return std::move(p.value);
    }

   private:
    handle_type h_;
  };
  Awaiter operator co_await() && noexcept { return Awaiter(h_); }
  Awaiter operator co_await() & noexcept { return Awaiter(h_); }

 private:
  handle_type h_;
};

namespace detail {
template <class T>
Coro<T> Promise<T>::get_return_object() noexcept {
  return Coro<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}
inline Coro<void> Promise<void>::get_return_object() noexcept {
  return Coro<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}
}  // namespace detail

}  // namespace uasyncio
