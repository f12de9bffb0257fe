// A nested run() that returns normally, and one that raises, inside a running coroutine.
//
// MicroPython lets the seed wait_for example call run() from inside a task (§4.8), but after a
// nested run returns, `cur_task` is None: current_task() raises and the outer coroutine's next
// await crashes the interpreter. Here the nested run drives the same loop (other tasks keep
// running), then the outer task is the current task again and goes on awaiting as usual.
#include <uasyncio/uasyncio.hpp>

#include "print.hpp"

namespace asyncio = uasyncio;
using example::print;

asyncio::Coro<void> ticker() {
  for (int i = 1; i <= 3; ++i) {
    co_await asyncio::sleep(1);
    print("Tick", i);
  }
}

asyncio::Coro<int> inner(int n, asyncio::AnyTask outer) {
  print("Inner: start; current_task() is main:", asyncio::current_task() == outer);
  co_await asyncio::sleep(1.5);
  print("Inner: done");
  co_return 2 * n;
}

asyncio::Coro<void> forever() {
  while (true)
    co_await asyncio::sleep(1);
}

asyncio::Coro<int> main_() {
  const asyncio::AnyTask me = asyncio::current_task();
  asyncio::Task<void> ticks = asyncio::create_task(ticker());

  // The ticker runs while this task is frozen inside the nested run.
  const int r = asyncio::run(inner(21, me));
  print("Outer: nested run returned", r);
  print("Outer: current_task() is main:", asyncio::current_task() == me);

  // Where MicroPython crashes.
  co_await asyncio::sleep(1);
  print("Outer: awaited again; current_task() is main:", asyncio::current_task() == me);
  co_await ticks;
  print("Outer: ticker finished");

  // A nested run that raises leaves this task just as usable.
  bool timed_out = false;
  try {
    asyncio::run(asyncio::wait_for(forever(), 0.5));
  } catch (const asyncio::TimeoutError&) {
    timed_out = true;
  }
  print("Outer: nested run raised TimeoutError:", timed_out);
  co_await asyncio::sleep(1);
  print("Outer: done; current_task() is main:", asyncio::current_task() == me);
  co_return 7;
}

int main() {
  return example::python_main([] { print("run() returned", asyncio::run(main_())); });
}
