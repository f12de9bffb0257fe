// §2: a task's states as seen through done(), result(), exception() and cancelled().
#include <uasyncio/uasyncio.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include "loop_fixture.hpp"

namespace ua = uasyncio;

namespace {

struct ValueError : std::runtime_error {
  ValueError() : std::runtime_error("ValueError") {}
};

std::string py_bool(bool b) {
  return b ? "True" : "False";
}

class TaskState : public LoopTest {
 protected:
  // MicroPython's asyncio_task_done.py task: sleeps unless t < 0, then maybe raises.
  ua::Coro<void> task(double t, bool raise) {
    log("task start");
    if (t >= 0) co_await ua::sleep(t);
    if (raise) throw ValueError();
    log("task done");
  }

  ua::Coro<void> done_sequence(double t, bool raise) {
    log("==========");
    ua::Task<void> tk = ua::create_task(task(t, raise));
    log(py_bool(tk.done()));
    co_await ua::sleep(0);
    log(py_bool(tk.done()));
    try {
      co_await tk;
    } catch (const ValueError&) {
      log("ValueError()");
    }
    log(py_bool(tk.done()));
  }

  ua::Coro<void> port_of_task_done() {
    co_await done_sequence(-1, false);
    co_await done_sequence(0.01, false);
    co_await done_sequence(-1, true);
    co_await done_sequence(0.01, true);
  }

  ua::Coro<int> forty_two() { co_return 42; }

  ua::Coro<void> port_of_await_return() {
    log(std::to_string(co_await forty_two()));
    ua::Task<int> t = ua::create_task(forty_two());
    log(std::to_string(co_await t));
  }

  ua::Coro<int> sleeps_then_returns(int ms, int v) {
    co_await ua::sleep_ms(ms);
    co_return v;
  }

  ua::Coro<int> sleeps_then_raises(int ms) {
    co_await ua::sleep_ms(ms);
    throw ValueError();
  }

  ua::Coro<void> observe_lifecycle() {
    ua::Task<int> t = ua::create_task(sleeps_then_returns(10, 5));
    log("created " + py_bool(t.done()));
    co_await ua::sleep_ms(1);
    log("sleeping " + py_bool(t.done()));
    co_await ua::sleep_ms(20);
    log("finished " + py_bool(t.done()));
  }

  ua::Coro<void> let_run(int ms) { co_await ua::sleep_ms(ms); }

  ua::Coro<void> logs_when_run() {
    log("body ran");
    co_return;
  }

  ua::Coro<void> creates_and_inspects() {
    ua::Task<void> t = ua::create_task(logs_when_run());
    log("created");
    co_await ua::sleep(0);
    log("after yield");
  }
};

}  // namespace

// §2.1: done() is false from creation until the task has finished.
TEST_F(TaskState, DoneOnlyOnceFinished) {
  ua::run(observe_lifecycle());
  EXPECT_EQ(lines_, (std::vector<std::string>{"created False", "sleeping False", "finished True"}));
}

// §2.1/§2.2: a finished task holds its return value.
TEST_F(TaskState, ReturnedTaskHoldsItsValue) {
  ua::Task<int> t = ua::create_task(sleeps_then_returns(5, 9));
  ua::run(let_run(10));
  ASSERT_TRUE(t.done());
  EXPECT_EQ(t.result(), 9);
  EXPECT_EQ(t.exception(), nullptr);
  EXPECT_FALSE(t.cancelled());
}

// §2.1/§2.2: a task that raised holds the exception, and result() rethrows it.
TEST_F(TaskState, RaisedTaskHoldsItsException) {
  ua::get_event_loop().set_exception_handler([](ua::Loop&, const ua::ExceptionContext&) {});
  ua::Task<int> t = ua::create_task(sleeps_then_raises(5));
  ua::run(let_run(10));
  ASSERT_TRUE(t.done());
  EXPECT_NE(t.exception(), nullptr);
  EXPECT_THROW(t.result(), ValueError);
  EXPECT_FALSE(t.cancelled());
}

// §2.1: a cancelled task is done and says so.
TEST_F(TaskState, CancelledTaskIsDoneAndCancelled) {
  ua::Task<int> t = ua::create_task(sleeps_then_returns(1000, 1));
  ua::run(let_run(1));
  EXPECT_TRUE(t.cancel());
  EXPECT_FALSE(t.done());
  ua::run(let_run(1));
  ASSERT_TRUE(t.done());
  EXPECT_TRUE(t.cancelled());
  EXPECT_THROW(t.result(), ua::CancelledError);
}

// A result asked for too early is an error, not a blocking wait.
TEST_F(TaskState, ResultBeforeDoneRaisesRuntimeError) {
  ua::Task<int> t = ua::create_task(sleeps_then_returns(5, 1));
  EXPECT_THROW(t.result(), ua::RuntimeError);
}

// §2.4: creating a task never runs any of its body.
TEST_F(TaskState, NeverStartedSynchronously) {
  ua::run(creates_and_inspects());
  EXPECT_EQ(lines_, (std::vector<std::string>{"created", "body ran", "after yield"}));
}

// Handles are shared references to one task.
TEST_F(TaskState, CopiedHandlesReferToTheSameTask) {
  ua::Task<int> t = ua::create_task(sleeps_then_returns(1, 3));
  ua::Task<int> copy = t;
  EXPECT_TRUE(copy == t);
  ua::run(let_run(2));
  EXPECT_TRUE(copy.done());
  EXPECT_EQ(copy.result(), 3);
}

// MicroPython tests/extmod/asyncio_task_done.py
TEST_F(TaskState, PortOfAsyncioTaskDone) {
  ua::run(port_of_task_done());
  EXPECT_EQ(lines_, (std::vector<std::string>{
                        "==========", "False", "task start", "task done", "True",         "True",
                        "==========", "False", "task start", "False",     "task done",    "True",
                        "==========", "False", "task start", "True",      "ValueError()", "True",
                        "==========", "False", "task start", "False",     "ValueError()", "True"}));
}

// MicroPython tests/extmod/asyncio_await_return.py
TEST_F(TaskState, PortOfAsyncioAwaitReturn) {
  ua::run(port_of_await_return());
  EXPECT_EQ(lines_, (std::vector<std::string>{"42", "42"}));
}
