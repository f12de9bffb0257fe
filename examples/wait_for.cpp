// Seed example: uasyncio.wait_for, with the doc's nested run() inside a running coroutine.
//
// §19.4: the nested run drives the same loop (§4.8): bar prints at 0, 2, 4 and 6 s; at 7 s the
// timeout cancels it and the nested run raises TimeoutError, which leaves main and the outer
// run(): the program reports it on stderr and exits with status 1. The final sleep(10) is never
// reached.
#include <uasyncio/uasyncio.hpp>

#include "print.hpp"

namespace asyncio = uasyncio;
using example::print;

asyncio::Coro<void> bar(int x) {
  int count = 0;
  while (true) {
    count += 1;
    print("Instance:", x, "count:", count);
    co_await asyncio::sleep(2);
    print("sleep count instance =", x, "count =", count);
  }
}

asyncio::Coro<void> main_() {
  // Set the coroutine wait task
  asyncio::Coro<void> task = asyncio::wait_for(bar(10), 7);
  // Start the coroutine. If the task does not exit within 7 seconds, it is cancelled and an
  // exception is raised.
  asyncio::run(std::move(task));
  co_await asyncio::sleep(10);
}

int main() {
  return example::python_main([] { asyncio::run(main_()); });
}
