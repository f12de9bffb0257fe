// §1: the exception hierarchy, and which exceptions the scheduler keeps inside run().
#include <uasyncio/uasyncio.hpp>

#include <exception>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "loop_fixture.hpp"
#include "test_gate.hpp"

namespace ua = uasyncio;

namespace {

// Stands for Python's SystemExit/KeyboardInterrupt: a BaseException that is neither an
// Exception nor a CancelledError.
struct SystemExitLike {
  int code;
};

// An exception carrying a value, as MicroPython's exceptions carry `.value` (§1.3).
struct ValueError : std::runtime_error {
  explicit ValueError(int v) : std::runtime_error("ValueError"), value(v) {}
  int value;
};

class Exceptions : public LoopTest {
 protected:
  ua::Coro<void> sleeps_guarded_by_std_exception() {
    try {
      try {
        co_await ua::sleep(10);
        log("sleep ended");
      } catch (const std::exception&) {
        log("caught as std::exception");
      }
    } catch (const ua::CancelledError&) {
      log("caught as CancelledError");
      throw;
    }
  }

  ua::Coro<void> cancels_guarded_sleeper() {
    ua::Task<void> t = ua::create_task(sleeps_guarded_by_std_exception());
    co_await ua::sleep(0);
    t.cancel();
    bool cancelled = false;
    try {
      co_await t;
    } catch (const ua::CancelledError&) {
      cancelled = true;
    }
    log(cancelled ? "main got CancelledError" : "main got no error");
  }

  ua::Coro<void> sleeps_forever() { co_await ua::sleep(3600); }

  ua::Coro<void> times_out() {
    try {
      co_await ua::wait_for_ms(sleeps_forever(), 5);
      log("no timeout");
    } catch (const std::exception& e) {
      log(std::string("std::exception ") + e.what());
    }
  }

  ua::Coro<void> raises_value(int v) {
    co_await ua::sleep(0);
    throw ValueError(v);
  }

  ua::Coro<int> awaits_value_error() {
    try {
      co_await ua::create_task(raises_value(42));
    } catch (const ValueError& e) {
      co_return e.value;
    }
    co_return -1;
  }

  ua::Coro<void> main_exits() {
    log("main start");
    co_await ua::sleep(0);
    throw SystemExitLike{3};
  }

  ua::Coro<void> task_exits() {
    log("task start");
    throw SystemExitLike{4};
    co_return;  // makes it a coroutine, so the throw happens when the task runs
  }

  ua::Coro<void> main_sleeps_while_task_exits() {
    ua::create_task(task_exits());
    co_await ua::sleep(10);
    log("main woke");
  }

  ua::Coro<void> main_awaits_exiting_task() {
    ua::Task<void> t = ua::create_task(task_exits());
    try {
      co_await t;
      log("main: task returned");
    } catch (...) {
      log("main caught it");
    }
  }

  ua::Coro<int> main_ignores_failing_task() {
    ua::create_task(raises_value(1));
    co_await ua::sleep_ms(10);
    co_return 7;
  }

  ua::Coro<void> task_exits_later() {
    co_await ua::sleep_ms(5);
    throw SystemExitLike{5};
  }
};

}  // namespace

// §1.1
TEST_F(Exceptions, CancelledErrorIsNotAStdException) {
  static_assert(!std::is_base_of_v<std::exception, ua::CancelledError>);
  ua::run(cancels_guarded_sleeper());
  EXPECT_EQ(lines_,
            (std::vector<std::string>{"caught as CancelledError", "main got CancelledError"}));
}

// §1.2
TEST_F(Exceptions, TimeoutErrorIsAStdException) {
  static_assert(std::is_base_of_v<std::exception, ua::TimeoutError>);
  ua::run(times_out());
  EXPECT_EQ(lines_, (std::vector<std::string>{"std::exception TimeoutError"}));
  EXPECT_EQ(elapsed_ms(), 5);
}

TEST_F(Exceptions, RuntimeErrorIsAStdRuntimeError) {
  static_assert(std::is_base_of_v<std::runtime_error, ua::RuntimeError>);
  EXPECT_THROW(ua::current_task(), std::runtime_error);
}

// §1.3: what a task raised reaches its awaiter intact (the C++ form of `.value`).
TEST_F(Exceptions, TaskExceptionReachesAwaiterWithItsValue) {
  EXPECT_EQ(ua::run(awaits_value_error()), 42);
}

// §1.4
TEST_F(Exceptions, NonStdExceptionInMainEscapesRun) {
  try {
    ua::run(main_exits());
    FAIL() << "run() returned";
  } catch (const SystemExitLike& e) {
    EXPECT_EQ(e.code, 3);
  }
  EXPECT_EQ(lines_, (std::vector<std::string>{"main start"}));
}

// §1.4: from a task other than main, the loop does not wait for main's 10 s sleep.
TEST_F(Exceptions, NonStdExceptionInOtherTaskEscapesRunAtOnce) {
  try {
    ua::run(main_sleeps_while_task_exits());
    FAIL() << "run() returned";
  } catch (const SystemExitLike& e) {
    EXPECT_EQ(e.code, 4);
  }
  EXPECT_EQ(lines_, (std::vector<std::string>{"task start"}));
  EXPECT_EQ(elapsed_ms(), 0);
}

// §1.4: it is not delivered to the task awaiting the failed one, even one catching everything.
TEST_F(Exceptions, NonStdExceptionBypassesAwaitingTask) {
  ua::Loop& loop = ua::get_event_loop();
  ua::Task<void> main = loop.create_task(main_awaits_exiting_task());
  EXPECT_THROW(loop.run_until_complete(main), SystemExitLike);
  EXPECT_EQ(lines_, (std::vector<std::string>{"task start"}));
  EXPECT_FALSE(main.done());
  // Left waiting for good; the loop's reset (TearDown) destroys its frame with the handle's.
}

// §1.4 applies to run_forever() as well.
TEST_F(Exceptions, NonStdExceptionEscapesRunForever) {
  ua::Loop& loop = ua::get_event_loop();
  loop.create_task(task_exits_later());
  EXPECT_THROW(loop.run_forever(), SystemExitLike);
  EXPECT_EQ(elapsed_ms(), 5);
}

// §1.4 contrast: an ordinary exception in an unawaited task stays inside the loop (§8 reports it).
TEST_F(Exceptions, StdExceptionInOtherTaskStaysInsideRun) {
  int reported = 0;
  ua::get_event_loop().set_exception_handler(
      [&reported](ua::Loop&, const ua::ExceptionContext&) { ++reported; });
  EXPECT_EQ(ua::run(main_ignores_failing_task()), 7);
  EXPECT_EQ(reported, 1);
}
