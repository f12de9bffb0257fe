// gather (§10): MicroPython's asyncio.gather(*aws, return_exceptions=False). Runs awaitables
// concurrently and collects their results in argument order.
//
//   auto [a, b, set] = co_await gather(coro_a(), task_b, ev.wait());   // the first failure raises
//   auto rs = co_await gather(return_exceptions, coro_a(), task_b);     // each an Outcome<T>
//   std::vector<int> v = co_await gather(std::move(tasks));             // a runtime list...
//   std::vector<int> w = co_await gather(std::move(tasks), coro_c());   // ...and more after it
//
// Arguments: any mix of what AwaitableArgument admits (awaitable.hpp): coroutines and library
// awaiters become tasks in argument order when the gather starts (§10.1-10.2: nothing happens
// until it is awaited); tasks are used as they are. A list is a std::vector of one kind (Task<T>,
// Coro<T>, Awaitable<T> to mix them), optionally followed by more awaitables of the same result.
// A void result gives None.
//
// Lifetime: gather owns what it was given; its children run on after a failure (§10.7), as
// tasks of the loop. Thread rules: on the loop's thread.
#pragma once

#include <array>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "uasyncio/awaitable.hpp"
#include "uasyncio/coro.hpp"
#include "uasyncio/detail/parking.hpp"
#include "uasyncio/detail/task_header.hpp"
#include "uasyncio/detail/wait_list.hpp"
#include "uasyncio/outcome.hpp"
#include "uasyncio/task.hpp"

namespace uasyncio {

struct ReturnExceptions {};
// Tag selecting gather's return_exceptions=True form.
inline constexpr ReturnExceptions return_exceptions{};

namespace detail {

// The non-typed heart of gather: registers the children (MicroPython's `state = done`
// callback), waits until all finished or, without return_exceptions, the first one failed, and
// on the way out deregisters (and, if the gather was cancelled, cancels) the ones still running.
class GatherCore : public Parking<> {
 public:
  using ChildAt = TaskHeader* (*)(const void* children, std::size_t index);

  GatherCore(const void* children, std::size_t count, ChildAt child_at, bool return_exceptions)
      : children_(children),
        count_(count),
        child_at_(child_at),
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
  return std::apply(
      [](const auto&... t) { return std::array<TaskHeader*, sizeof...(Ts)>{t.header()...}; },
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
template <AwaitableArgument... Aws>
Coro<std::tuple<value_or_none_t<result_of_t<Aws>>...>> gather(Aws... aws) {
  std::tuple<Task<result_of_t<Aws>>...> tasks{detail::promote(std::move(aws))...};
  auto headers = detail::headers_of(tasks);
  co_await detail::GatherCore(&headers, headers.size(), &detail::tuple_child<decltype(headers)>,
                              false);
  auto values = detail::values_of(tasks);
  co_return values;
}

// gather(return_exceptions, aws...): waits for every child; each element is an Outcome holding
// the child's value or the exception that ended it (§10.6).
template <AwaitableArgument... Aws>
Coro<std::tuple<Outcome<result_of_t<Aws>>...>> gather(ReturnExceptions, Aws... aws) {
  std::tuple<Task<result_of_t<Aws>>...> tasks{detail::promote(std::move(aws))...};
  auto headers = detail::headers_of(tasks);
  co_await detail::GatherCore(&headers, headers.size(), &detail::tuple_child<decltype(headers)>,
                              true);
  auto outcomes = detail::outcomes_of(tasks);
  co_return outcomes;
}

namespace detail {

// The tasks of gather(list, more...): the list's in order, then the others'.
template <class A, class... Bs>
std::vector<Task<result_of_t<A>>> promote_all(std::vector<A>&& list, Bs&&... more) {
  if constexpr (std::is_same_v<A, Task<result_of_t<A>>> && sizeof...(Bs) == 0) {
    return std::move(list);  // already tasks: the vector itself will do
  }
  std::vector<Task<result_of_t<A>>> tasks;
  tasks.reserve(list.size() + sizeof...(Bs));
  for (A& a : list)
    tasks.push_back(promote(std::move(a)));
  (tasks.push_back(promote(std::move(more))), ...);
  return tasks;
}

template <class T>
Coro<std::vector<value_or_none_t<T>>> gather_tasks(std::vector<Task<T>> tasks) {
  co_await GatherCore(&tasks, tasks.size(), &vector_child<T>, false);
  std::vector<value_or_none_t<T>> values;
  values.reserve(tasks.size());
  for (const Task<T>& t : tasks)
    values.push_back(value_of(t));
  co_return values;
}

template <class T>
Coro<std::vector<Outcome<T>>> gather_tasks_outcomes(std::vector<Task<T>> tasks) {
  co_await GatherCore(&tasks, tasks.size(), &vector_child<T>, true);
  std::vector<Outcome<T>> outcomes;
  outcomes.reserve(tasks.size());
  for (const Task<T>& t : tasks)
    outcomes.push_back(outcome_of(t));
  co_return outcomes;
}

}  // namespace detail

// gather(list, more...): Python's gather(*list, *more) over a runtime list (a vector of tasks,
// of coroutines, or of Awaitable<T> to mix them) and any awaitables of the same result after
// it: a vector of the results, in order.
template <AwaitableArgument A, AwaitableArgument... Bs>
requires(std::is_same_v<result_of_t<A>, result_of_t<Bs>>&&...)
    Coro<std::vector<value_or_none_t<result_of_t<A>>>> gather(std::vector<A> list, Bs... more) {
  // A coroutine itself, so that nothing is promoted before the gather is awaited (§10.1).
  co_return co_await detail::gather_tasks(detail::promote_all(std::move(list), std::move(more)...));
}

// gather(return_exceptions, list, more...): each element an Outcome (§10.6).
template <AwaitableArgument A, AwaitableArgument... Bs>
requires(std::is_same_v<result_of_t<A>, result_of_t<Bs>>&&...)
    Coro<std::vector<Outcome<result_of_t<A>>>> gather(ReturnExceptions, std::vector<A> list,
                                                      Bs... more) {
  co_return co_await detail::gather_tasks_outcomes(
      detail::promote_all(std::move(list), std::move(more)...));
}

}  // namespace uasyncio
