// Seed example: uasyncio.create_task at module level, with no run() afterwards.
// §19.1: prints nothing. create_task only queues the task (§3.2); it would run at the next
// run(), which never comes, so the program ends with the task still waiting.
#include <uasyncio/uasyncio.hpp>

#include "print.hpp"

namespace asyncio = uasyncio;
using example::print;

asyncio::Coro<void> my_coroutine() {
  print("Running my_coroutine");
  co_return;
}

int main() {
  asyncio::Task<void> task = asyncio::create_task(my_coroutine());
}
