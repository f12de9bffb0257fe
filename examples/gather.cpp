// Seed example: uasyncio.gather with return_exceptions.
//
// §19.5: at 0 s bar, barking and foo start; at 5 s do_cancel cancels bar; at 6 s barking
// returns 42; at 7 s foo's wait_for times out, and gather returns one entry per awaitable in
// argument order: Result:  [CancelledError(), 42, TimeoutError()]
#include <uasyncio/uasyncio.hpp>

#include <optional>
#include <string>
#include <tuple>
#include <utility>

#include "print.hpp"

namespace asyncio = uasyncio;
using example::print;

asyncio::Coro<int> barking(int n) {
  print("Start barking");
  for (int i = 0; i < 6; ++i)
    co_await asyncio::sleep(1);
  print("Done barking.");
  co_return 2 * n;
}

asyncio::Coro<int> foo(int n) {
  print("Start timeout coro foo()");
  while (true) {
    co_await asyncio::sleep(1);
    n += 1;
  }
  co_return n;
}

asyncio::Coro<int> bar(int n) {
  print("Start cancellable bar()");
  while (true) {
    co_await asyncio::sleep(1);
    n += 1;
  }
  co_return n;
}

asyncio::Coro<void> do_cancel(asyncio::Task<int> task) {
  co_await asyncio::sleep(5);
  print("About to cancel bar");
  task.cancel();
}

using Results = std::tuple<asyncio::Outcome<int>, asyncio::Outcome<int>, asyncio::Outcome<int>>;

// Python's str() of the result list (None until gather has returned).
std::string str(const std::optional<Results>& res) {
  if (!res) return "None";
  auto item = [](const asyncio::Outcome<int>& o) {
    return o.has_value() ? std::to_string(o.value()) : example::repr(o.exception());
  };
  return std::apply(
      [&](const auto& first, const auto&... rest) {
        std::string s = "[";
        s += item(first);
        ((s += ", " + item(rest)), ...);
        return s + "]";
      },
      *res);
}

asyncio::Coro<void> main_() {
  // Python's list of mixed awaitables (a Task and two coroutines) is a tuple in C++.
  auto tasks =
      std::make_tuple(asyncio::create_task(bar(70)), barking(21), asyncio::wait_for(foo(10), 7));
  asyncio::create_task(do_cancel(std::get<0>(tasks)));
  std::optional<Results> res;
  try {
    // When all coroutines are completed, if return_exceptions is True, the raised exception
    // will be returned as a result rather than raised immediately.
    auto gathering = std::apply(
        [](auto&... aws) { return asyncio::gather(asyncio::return_exceptions, std::move(aws)...); },
        tasks);
    res = co_await std::move(gathering);
  } catch (const asyncio::TimeoutError&) {  // These only happen if return_exceptions is False
    print("Timeout");                       // With the default times, cancellation occurs first
  } catch (const asyncio::CancelledError&) {
    print("Cancelled");
  }
  print("Result: ", str(res));
}

int main() {
  return example::python_main([] { asyncio::run(main_()); });
}
