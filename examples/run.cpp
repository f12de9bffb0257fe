// Seed example: uasyncio.run. §19.2: prints "Running my_coroutine".
#include <uasyncio/uasyncio.hpp>

#include "print.hpp"

namespace asyncio = uasyncio;
using example::print;

asyncio::Coro<void> my_coroutine() {
  print("Running my_coroutine");
  co_return;
}

int main() {
  return example::python_main([] { asyncio::run(my_coroutine()); });
}
