// Seed example: task.cancel.
//
// As written in the doc it cannot run: `main` is a plain `def`, so run() gets None and raises
// TypeError (§19.3), and C++ types cannot even express that. This is its intent: an async main
// starts bar() under a 7 s wait_for as a task, do_cancel cancels that task at 5 s (before the
// timeout), and main reports the CancelledError it gets from awaiting the task.
#include <uasyncio/uasyncio.hpp>

#include <exception>

#include "print.hpp"

namespace asyncio = uasyncio;
using example::print;

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
  // Cancel the task.
  task.cancel();
}

asyncio::Coro<void> main_() {
  // The doc's `wait_for(...)` alone does nothing until awaited (§9.1); as a task it runs now.
  asyncio::Task<int> task = asyncio::create_task(asyncio::wait_for(bar(10), 7));
  asyncio::create_task(do_cancel(task));
  std::exception_ptr error;
  try {
    co_await task;
  } catch (const asyncio::CancelledError&) {
    error = std::current_exception();
  }
  if (error) print("Cancelled:", example::repr(error));
}

int main() {
  return example::python_main([] { asyncio::run(main_()); });
}
