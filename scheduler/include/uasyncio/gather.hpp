// gather (§10): runs awaitables concurrently and collects their results in argument order.
//
//   auto [a, b] = co_await gather(coro_a(), task_b);                 // first failure is raised
//   auto rs = co_await gather(return_exceptions, coro_a(), task_b);  // each an Outcome<T>
//   std::vector<int> v = co_await gather(std::move(tasks));          // vector of Task<int>
#pragma once

#include <array>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "uasyncio/coro.hpp"
#include "uasyncio/detail/task_header.hpp"
#include "uasyncio/detail/wait_list.hpp"
#include "uasyncio/loop.hpp"
#include "uasyncio/outcome.hpp"
#include "uasyncio/task.hpp"

namespace uasyncio {

struct ReturnExceptions {};
// Tag selecting gather's return_exceptions=True form.
inline constexpr ReturnExceptions return_exceptions{};

namespace detail {

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

template <class A>
concept GatherArgument = awaitable_traits<std::remove_cvref_t<A>>::value;
template <class A>
using result_of_t = typename awaitable_traits<std::remove_cvref_t<A>>::result;

// Coroutines become tasks (in argument order); tasks are used as they are.
template <class T>
Task<T> promote(Coro<T>&& c) {
  return create_task(std::move(c));
}
template <class T>
Task<T> promote(Task<T> t) {
  return t;
}

// The non-typed heart of gather: registers the children (MicroPython's `state = done`
// callback), waits until all finished or, without return_exceptions, the first one failed, and
// on the way out deregisters (and, if the gather was cancelled, cancels) the ones still running.
class GatherCore {
 public:
  using ChildAt = TaskHeader* (*)(const void* children, std::size_t index);

  GatherCore(const void* children, std::size_t count, ChildAt child_at, bool return_exceptions)
      : children_(children), count_(count), child_at_(child_at),
        return_exceptions_(return_exceptions) {}
  GatherCore(const GatherCore&) = delete;
  GatherCore& operator=(const GatherCore&) = delete;
  ~GatherCore() { deregister(count_, false); }

  // Called by the loop when a registered child finishes.
  void child_done(TaskHeader* child);

  bool await_ready();
  void await_suspend(std::coroutine_handle<> h);
  void await_resume();

 private:
  TaskHeader* child(std::size_t i) const { return child_at_(children_, i); }
  void deregister(std::size_t upto, bool cancel);

  const void* children_;
  std::size_t count_;
  ChildAt child_at_;
  bool return_exceptions_;
  bool listening_ = false;
  std::size_t remaining_ = 0;
  std::exception_ptr first_error_;
  WaitList waiting_;
  Waiter waiter_{nullptr};
};

template <class Tasks>
TaskHeader* tuple_child(const void* headers, std::size_t i) {
  return (*static_cast<const Tasks*>(headers))[i];
}
template <class T>
TaskHeader* vector_child(const void* tasks, std::size_t i) {
  return (*static_cast<const std::vector<Task<T>>*>(tasks))[i].header();
}

template <class T>
value_or_none_t<T> value_of(const Task<T>& t) {
  if constexpr (std::is_void_v<T>) {
    t.result();
    return None{};
  } else {
    return t.result();
  }
}
template <class T>
Outcome<T> outcome_of(const Task<T>& t) {
  if (t.header()->error) return Outcome<T>(t.header()->error);
  return Outcome<T>(value_of(t));
}

template <class... Ts>
std::array<TaskHeader*, sizeof...(Ts)> headers_of(const std::tuple<Task<Ts>...>& tasks) {
  return std::apply([](const auto&... t) { return std::array<TaskHeader*, sizeof...(Ts)>{t.header()...}; },
                    tasks);
}
template <class... Ts>
std::tuple<value_or_none_t<Ts>...> values_of(const std::tuple<Task<Ts>...>& tasks) {
  return std::apply([](const auto&... t) { return std::tuple{value_of(t)...}; }, tasks);
}
template <class... Ts>
std::tuple<Outcome<Ts>...> outcomes_of(const std::tuple<Task<Ts>...>& tasks) {
  return std::apply([](const auto&... t) { return std::tuple{outcome_of(t)...}; }, tasks);
}

}  // namespace detail

// gather(aws...): a tuple of the results in argument order (void results are None). The first
// child to fail makes it raise that exception; the others keep running (§10.7).
template <detail::GatherArgument... Aws>
Coro<std::tuple<value_or_none_t<detail::result_of_t<Aws>>...>> gather(Aws... aws) {
  std::tuple<Task<detail::result_of_t<Aws>>...> tasks{detail::promote(std::move(aws))...};
  auto headers = detail::headers_of(tasks);
  co_await detail::GatherCore(&headers, headers.size(), &detail::tuple_child<decltype(headers)>,
                              false);
  auto values = detail::values_of(tasks);
  co_return values;
}

// gather(return_exceptions, aws...): waits for every child; each element is an Outcome holding
// the child's value or the exception that ended it (§10.6).
template <detail::GatherArgument... Aws>
Coro<std::tuple<Outcome<detail::result_of_t<Aws>>...>> gather(ReturnExceptions, Aws... aws) {
  std::tuple<Task<detail::result_of_t<Aws>>...> tasks{detail::promote(std::move(aws))...};
  auto headers = detail::headers_of(tasks);
  co_await detail::GatherCore(&headers, headers.size(), &detail::tuple_child<decltype(headers)>,
                              true);
  auto outcomes = detail::outcomes_of(tasks);
  co_return outcomes;
}

// gather over a vector of tasks: a vector of their results, in order.
template <class T>
Coro<std::vector<value_or_none_t<T>>> gather(std::vector<Task<T>> tasks) {
  co_await detail::GatherCore(&tasks, tasks.size(), &detail::vector_child<T>, false);
  std::vector<value_or_none_t<T>> values;
  values.reserve(tasks.size());
  for (const Task<T>& t : tasks) values.push_back(detail::value_of(t));
  co_return values;
}

template <class T>
Coro<std::vector<Outcome<T>>> gather(ReturnExceptions, std::vector<Task<T>> tasks) {
  co_await detail::GatherCore(&tasks, tasks.size(), &detail::vector_child<T>, true);
  std::vector<Outcome<T>> outcomes;
  outcomes.reserve(tasks.size());
  for (const Task<T>& t : tasks) outcomes.push_back(detail::outcome_of(t));
  co_return outcomes;
}

// gather over a vector of coroutines: each becomes a task, in order.
template <class T>
Coro<std::vector<value_or_none_t<T>>> gather(std::vector<Coro<T>> coros) {
  std::vector<Task<T>> tasks;
  tasks.reserve(coros.size());
  for (Coro<T>& c : coros) tasks.push_back(create_task(std::move(c)));
  co_return co_await gather(std::move(tasks));
}

template <class T>
Coro<std::vector<Outcome<T>>> gather(ReturnExceptions, std::vector<Coro<T>> coros) {
  std::vector<Task<T>> tasks;
  tasks.reserve(coros.size());
  for (Coro<T>& c : coros) tasks.push_back(create_task(std::move(c)));
  co_return co_await gather(return_exceptions, std::move(tasks));
}

}  // namespace uasyncio
