// §14: current_task() is the running task, and an error outside of one.
#include <uasyncio/uasyncio.hpp>

#include <string>
#include <vector>

#include "loop_fixture.hpp"

namespace ua = uasyncio;

namespace {

class CurrentTask : public LoopTest {
 protected:
  ua::Coro<void> record_self(ua::AnyTask* out) {
    *out = ua::current_task();
    co_return;
  }

  ua::Coro<ua::AnyTask> inline_current() { co_return ua::current_task(); }

  ua::Coro<bool> inline_coro_sees_enclosing_task() {
    ua::AnyTask self = ua::current_task();
    ua::AnyTask seen = co_await inline_current();
    co_await ua::sleep(0);
    co_return seen == self&& ua::current_task() == self;
  }

  ua::Coro<void> two_tasks_see_themselves() {
    ua::AnyTask seen_a;
    ua::AnyTask seen_b;
    ua::Task<void> a = ua::create_task(record_self(&seen_a));
    ua::Task<void> b = ua::create_task(record_self(&seen_b));
    co_await a;
    co_await b;
    log(seen_a == a ? "a is a" : "a is not a");
    log(seen_b == b ? "b is b" : "b is not b");
  }

  // MicroPython tests/extmod/asyncio_current_task.py
  ua::Coro<void> port_main() {
    ua::AnyTask result;
    ua::Task<void> t = ua::create_task(record_self(&result));
    co_await ua::sleep(0);
    co_await ua::sleep(0);
    log(t == result ? "True" : "False");
  }
  void log_current_task_outside() {
    try {
      ua::current_task();
      log("a task");
    } catch (const ua::RuntimeError&) {
      log("RuntimeError");
    }
  }
};

}  // namespace

// §14.1
TEST_F(CurrentTask, ReturnsTheRunningTask) {
  ua::run(two_tasks_see_themselves());
  EXPECT_EQ(lines_, (std::vector<std::string>{"a is a", "b is b"}));
}

// §14.1: a coroutine awaited inline runs in (and reports) the awaiting task.
TEST_F(CurrentTask, InsideInlineCoroIsTheEnclosingTask) {
  EXPECT_TRUE(ua::run(inline_coro_sees_enclosing_task()));
}

// §14.1
TEST_F(CurrentTask, OutsideATaskRaisesRuntimeError) {
  try {
    ua::current_task();
    FAIL() << "no error";
  } catch (const ua::RuntimeError& e) {
    EXPECT_STREQ(e.what(), "no running event loop");
  }
}

// MicroPython tests/extmod/asyncio_current_task.py
TEST_F(CurrentTask, PortOfAsyncioCurrentTask) {
  log_current_task_outside();
  ua::run(port_main());
  log_current_task_outside();
  EXPECT_EQ(lines_, (std::vector<std::string>{"RuntimeError", "True", "RuntimeError"}));
}
