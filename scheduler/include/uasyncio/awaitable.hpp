// What gather and wait_for take (Python's "awaitables"), and Awaitable<T>, a type-erased one.
//
// gather and wait_for accept, in any mix: a Coro<T> (made a task, §9.1/§10.2), a Task<T> (used as
// it is), an Awaitable<T>, and every awaiter the library returns: Event::wait(),
// Lock::acquire()/scoped(), ThreadSafeFlag::wait(), Queue::get()/put()/join(), Process::wait()
// (each runs in a task of its own, as MicroPython runs those coroutines). A Sleep is refused at
// compile time: in MicroPython a sleep is not a coroutine either (§5.4, TypeError).
//
//   std::vector<ua::Awaitable<int>> aws;
//   aws.push_back(ua::create_task(compute(1)));  // a task
//   aws.push_back(compute(2));                    // a coroutine
//   aws.push_back(queue.get());                   // a library awaiter
//   std::vector<int> results = co_await ua::gather(std::move(aws));
//
// Lifetime: an Awaitable owns its coroutine (or shares its task) until it is awaited or given to
// gather/wait_for. A library awaiter inside one still refers to its object (the Event, the
// Queue...), which must outlive it.
// Thread rules: on the loop's thread.
#pragma once

#include <concepts>
#include <type_traits>
#include <utility>
#include <variant>

#include "uasyncio/coro.hpp"
#include "uasyncio/detail/parking.hpp"
#include "uasyncio/task.hpp"

namespace uasyncio {

template <class T = void>
class Awaitable;

namespace detail {

// A library awaiter (not a Task's: a Task is taken as itself).
template <class A>
concept LibraryAwaiter = std::derived_from<A, AwaiterBase> && std::move_constructible<A>;

template <class A>
using awaiter_result_t = decltype(std::declval<A&>().await_resume());

template <class A>
struct awaitable_traits : std::false_type {};
template <class T>
struct awaitable_traits<Coro<T>> : std::true_type {
  using result = T;
};
template <class T>
struct awaitable_traits<Task<T>> : std::true_type {
  using result = T;
};
template <class T>
struct awaitable_traits<Awaitable<T>> : std::true_type {
  using result = T;
};
template <LibraryAwaiter A>
struct awaitable_traits<A> : std::true_type {
  using result = awaiter_result_t<A>;
};

// Runs a library awaiter as the body of a task (an Awaitable<void> drops the awaiter's value).
template <class T, class A>
Coro<T> await_in_task(A aw) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(aw);
  } else {
    co_return co_await std::move(aw);
  }
}

}  // namespace detail

// Anything gather and wait_for take; result_of_t<A> is what awaiting it gives.
template <class A>
concept AwaitableArgument = detail::awaitable_traits<std::remove_cvref_t<A>>::value;
template <class A>
using result_of_t = typename detail::awaitable_traits<std::remove_cvref_t<A>>::result;

// One awaitable of result T, whatever it is: a task, a coroutine, or a library awaiter (made a
// coroutine at construction). For runtime lists: std::vector<Awaitable<T>> mixes them.
template <class T>
class Awaitable {
 public:
  Awaitable(Task<T> task) noexcept : v_(std::move(task)) {}  // NOLINT: implicit, as in Python
  Awaitable(Coro<T> coro) noexcept : v_(std::move(coro)) {}  // NOLINT
  template <detail::LibraryAwaiter A>
  requires std::convertible_to<detail::awaiter_result_t<A>, T> || std::is_void_v<T> Awaitable(
      A aw)  // NOLINT
      : v_(detail::await_in_task<T>(std::move(aw))) {}

  // The task: the one given, or a new task running the coroutine (§10.2 "promoted").
  Task<T> promote() && {
    if (Task<T>* t = std::get_if<Task<T>>(&v_)) return std::move(*t);
    return create_task(std::get<Coro<T>>(std::move(v_)));
  }

  // `await aw`: a coroutine runs inline in the awaiting task (§7.4), a task is awaited (§7).
  class Awaiter {
   public:
    explicit Awaiter(Awaitable& aw) : a_(make(aw)) {}
    bool await_ready() {
      return std::visit([](auto& a) { return a.await_ready(); }, a_);
    }
    bool await_suspend(std::coroutine_handle<> h) {
      return std::visit([h](auto& a) { return a.await_suspend(h); }, a_);
    }
    T await_resume() {
      return std::visit([](auto& a) -> T { return a.await_resume(); }, a_);
    }

   private:
    using Variant = std::variant<typename Task<T>::Awaiter, typename Coro<T>::Awaiter>;
    static Variant make(Awaitable& aw) {
      if (Task<T>* t = std::get_if<Task<T>>(&aw.v_)) {
        return Variant(std::in_place_index<0>, *t);
      }
      return Variant(std::in_place_index<1>, std::get<Coro<T>>(aw.v_).operator co_await());
    }
    Variant a_;
  };
  Awaiter operator co_await() & { return Awaiter(*this); }
  Awaiter operator co_await() && { return Awaiter(*this); }

 private:
  std::variant<Task<T>, Coro<T>> v_;
};

namespace detail {

// §9.1, §10.2: what wait_for and gather await is a task: coroutines (and awaiters) become new
// tasks, in argument order; tasks are used as they are.
template <class T>
Task<T> promote(Coro<T>&& c) {
  return create_task(std::move(c));
}
template <class T>
Task<T> promote(Task<T> t) {
  return t;
}
template <class T>
Task<T> promote(Awaitable<T>&& a) {
  return std::move(a).promote();
}
template <LibraryAwaiter A>
Task<awaiter_result_t<A>> promote(A&& aw) {
  return create_task(await_in_task<awaiter_result_t<A>>(std::move(aw)));
}

}  // namespace detail
}  // namespace uasyncio
