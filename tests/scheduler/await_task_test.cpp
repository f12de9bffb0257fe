// §7 awaiting a Task, and ports of MicroPython's asyncio_await_return, asyncio_wait_task,
// asyncio_exception, asyncio_wait_for_linked_task and asyncio_fair. Lines are recorded the way
// the Python tests print them and compared with what MicroPython prints.
#include <gtest/gtest.h>
#include <uasyncio/uasyncio.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "recorder.hpp"

namespace ua = uasyncio;

namespace {

// Counts §8 reports, so a test can show that awaiting retrieved the exception.
class CountingRecorder : public Recorder {
 public:
  static inline int handled = 0;

 protected:
  void SetUp() override {
    Recorder::SetUp();
    handled = 0;
    ua::get_event_loop().set_exception_handler(
        [](ua::Loop&, const ua::ExceptionContext&) { ++handled; });
  }
};

struct ValueError : std::runtime_error {
  explicit ValueError(int v) : std::runtime_error("ValueError(" + std::to_string(v) + ")") {}
};

ua::Coro<int> value_after(int ms, int v) {
  co_await ua::sleep_ms(ms);
  co_return v;
}

ua::Coro<int> raise_after(int ms, int v) {
  co_await ua::sleep_ms(ms);
  throw ValueError(v);
}

ua::Coro<void> ticker() {
  say("ticker");
  co_return;
}

}  // namespace

using AwaitTask = CountingRecorder;

// ---- §7.1 ----

ua::Coro<void> await_running_value() {
  ua::Task<int> t = ua::create_task(value_after(100, 42));
  const int v = co_await t;
  say(at("got " + std::to_string(v)));
}

TEST_F(AwaitTask, RunningTaskResumesCallerWithItsValue) {
  ua::run(await_running_value());
  EXPECT_EQ(lines_, (Lines{"got 42 @100"}));
}

ua::Coro<void> await_running_failure() {
  ua::Task<int> t = ua::create_task(raise_after(50, 3));
  try {
    co_await t;
    say("no exception");
  } catch (const ValueError& e) {
    say(at(e.what()));
  }
  co_await ua::sleep(0);  // a report, had there been one, would come now
}

TEST_F(AwaitTask, RunningTaskRethrowsItsExceptionInCaller) {
  ua::run(await_running_failure());
  EXPECT_EQ(lines_, (Lines{"ValueError(3) @50"}));
  EXPECT_EQ(handled, 0);
}

ua::Coro<void> named_waiter(ua::Task<int> target, std::string name) {
  const int v = co_await target;
  say(name + " " + std::to_string(v));
}

ua::Coro<void> several_waiters() {
  ua::Task<int> target = ua::create_task(value_after(10, 5));
  // Not in alphabetical order, so FIFO is told apart from any accidental sorting.
  ua::Task<void> c = ua::create_task(named_waiter(target, "c"));
  ua::Task<void> a = ua::create_task(named_waiter(target, "a"));
  ua::Task<void> b = ua::create_task(named_waiter(target, "b"));
  co_await c;
  co_await a;
  co_await b;
}

TEST_F(AwaitTask, WaitersResumeInTheOrderTheyStartedWaiting) {
  ua::run(several_waiters());
  EXPECT_EQ(lines_, (Lines{"c 5", "a 5", "b 5"}));
}

// ---- §7.2 ----

ua::Coro<void> await_finished_value() {
  ua::Task<int> t = ua::create_task(value_after(0, 7));
  co_await ua::sleep_ms(1);
  EXPECT_TRUE(t.done());
  ua::create_task(ticker());
  const int v = co_await t;  // must not yield: the ticker may only run at the sleep below
  say("got " + std::to_string(v));
  co_await ua::sleep(0);
}

TEST_F(AwaitTask, FinishedTaskGivesItsValueWithoutYielding) {
  ua::run(await_finished_value());
  EXPECT_EQ(lines_, (Lines{"got 7", "ticker"}));
}

ua::Coro<void> await_finished_failure_repeatedly() {
  ua::Task<int> t = ua::create_task(raise_after(0, 9));
  co_await ua::sleep_ms(1);
  ua::create_task(ticker());
  std::vector<const void*> objects;
  for (int i = 0; i < 3; ++i) {
    try {
      co_await t;
    } catch (const ValueError& e) {
      objects.push_back(&e);
      say(e.what());
    }
  }
  // Python re-raises the one exception object the task ended with, every time.
  EXPECT_EQ(objects.size(), 3u);
  if (objects.size() == 3) {
    EXPECT_EQ(objects[0], objects[1]);
    EXPECT_EQ(objects[1], objects[2]);
  }
  co_await ua::sleep(0);
}

TEST_F(AwaitTask, FinishedTaskRethrowsTheSameExceptionEveryTimeWithoutYielding) {
  ua::run(await_finished_failure_repeatedly());
  EXPECT_EQ(lines_, (Lines{"ValueError(9)", "ValueError(9)", "ValueError(9)", "ticker"}));
}

ua::Coro<void> await_finished_repeatedly() {
  ua::Task<int> t = ua::create_task(value_after(0, 11));
  co_await ua::sleep_ms(5);
  int sum = 0;
  for (int i = 0; i < 1000; ++i)
    sum += co_await t;
  say(std::to_string(sum));
}

TEST_F(AwaitTask, FinishedTaskCanBeAwaitedAnyNumberOfTimes) {
  ua::run(await_finished_repeatedly());
  EXPECT_EQ(lines_, (Lines{"11000"}));
}

ua::Coro<void> late_await_retrieves() {
  ua::Task<int> t = ua::create_task(raise_after(0, 4));
  co_await ua::sleep(0);  // t fails now and is queued to be reported after this task
  try {
    co_await t;
  } catch (const ValueError& e) {
    say(e.what());
  }
  for (int i = 0; i < 3; ++i)
    co_await ua::sleep(0);
}

TEST_F(AwaitTask, AwaitingAFinishedTaskMarksItsExceptionRetrieved) {
  ua::run(late_await_retrieves());
  EXPECT_EQ(lines_, (Lines{"ValueError(4)"}));
  EXPECT_EQ(handled, 0);
}

// ---- §7.3 ----

ua::Coro<void> gather_two(ua::Task<int> a, ua::Task<int> b) {
  auto [x, y] = co_await ua::gather(a, b);
  say("gathered " + std::to_string(x) + " " + std::to_string(y));
}

ua::Coro<void> await_gathered_child() {
  ua::Task<int> a = ua::create_task(value_after(10, 1));
  ua::Task<int> b = ua::create_task(value_after(20, 2));
  ua::Task<void> g = ua::create_task(gather_two(a, b));
  co_await ua::sleep(0);  // let the gather start
  try {
    co_await a;
    say("awaited");
  } catch (const ua::RuntimeError& e) {
    say(e.what());
  }
  co_await g;
  // Once the gather is over, the child is an ordinary finished task again.
  say("a " + std::to_string(co_await a));
}

TEST_F(AwaitTask, TaskInARunningGatherCantBeWaited) {
  ua::run(await_gathered_child());
  EXPECT_EQ(lines_, (Lines{"can't wait", "gathered 1 2", "a 1"}));
}

// ---- §7.4 ----

ua::Coro<bool> same_task_as(ua::AnyTask caller) {
  co_return ua::current_task() == caller;
}

ua::Coro<void> inline_await() {
  ua::create_task(ticker());
  const bool same = co_await same_task_as(ua::current_task());
  say(same ? "same task" : "other task");
  co_await ua::sleep(0);
}

TEST_F(AwaitTask, AwaitingACoroutineRunsItInlineInTheCallingTask) {
  ua::run(inline_await());
  EXPECT_EQ(lines_, (Lines{"same task", "ticker"}));
}

// ---- MicroPython tests/extmod ----

using MicroPython = CountingRecorder;

ua::Coro<int> forty_two() {
  co_return 42;
}

ua::Coro<void> await_return_main() {
  say(std::to_string(co_await forty_two()));
  ua::Task<int> t = ua::create_task(forty_two());
  say(std::to_string(co_await t));
}

TEST_F(MicroPython, AsyncioAwaitReturn) {
  ua::run(await_return_main());
  EXPECT_EQ(lines_, (Lines{"42", "42"}));
}

ua::Coro<void> print_task(int id) {
  say("task " + std::to_string(id));
  co_return;
}

ua::Coro<void> delay_print(double t, std::string s) {
  co_await ua::sleep(t);
  say(s);
}

ua::Coro<void> task_raise() {
  say("task_raise");
  throw ValueError(0);
  co_return;
}

ua::Coro<void> wait_task_main() {
  say("start");
  ua::Task<void> t = ua::create_task(print_task(1));
  co_await t;
  t = ua::create_task(print_task(2));
  co_await ua::sleep(0.001);
  co_await t;
  co_await t;
  say("----");

  ua::Task<void> ts1 = ua::create_task(delay_print(0.2, "hello"));
  ua::Task<void> ts2 = ua::create_task(delay_print(0.4, "world"));
  say("start");
  const std::int64_t t0 = ua::ticks_ms();
  co_await ts1;
  const std::int64_t t1 = ua::ticks_ms();
  co_await ts2;
  const std::int64_t t2 = ua::ticks_ms();
  say("took " + std::to_string(t1 - t0) + " " + std::to_string(t2 - t1));

  t = ua::create_task(task_raise());
  try {
    co_await t;
  } catch (const ValueError&) {
    say("ValueError");
  }

  ua::get_event_loop().set_exception_handler([](ua::Loop&, const ua::ExceptionContext&) {});
  t = ua::create_task(task_raise());
  for (int i = 0; i < 5; ++i)
    co_await ua::sleep(0);
  try {
    co_await t;
  } catch (const ValueError&) {
    say("ValueError");
  }
}

TEST_F(MicroPython, AsyncioWaitTask) {
  ua::run(wait_task_main());
  EXPECT_EQ(lines_,
            (Lines{"start", "task 1", "task 2", "----", "start", "hello", "world", "took 200 200",
                   "task_raise", "ValueError", "task_raise", "ValueError"}));
}

ua::Coro<void> main_raises() {
  say("main start");
  throw ValueError(1);
  co_return;
}

ua::Coro<void> sub_task_raises() {
  say("task start");
  throw ValueError(2);
  co_return;
}

ua::Coro<void> main_awaits_raiser() {
  say("main start");
  ua::Task<void> t = ua::create_task(sub_task_raises());
  co_await t;
  say("main done");
}

ua::Coro<void> nothing() {
  co_return;
}

ua::Coro<void> main_raises_with_pending_task() {
  say("main start");
  ua::create_task(nothing());
  throw ValueError(3);
  co_return;
}

TEST_F(MicroPython, AsyncioException) {
  try {
    ua::run(main_raises());
  } catch (const ValueError& e) {
    say(std::string("ValueError ") + e.what());
  }
  try {
    ua::run(main_awaits_raiser());
  } catch (const ValueError& e) {
    say(std::string("ValueError ") + e.what());
  }
  try {
    ua::run(main_raises_with_pending_task());
  } catch (const ValueError& e) {
    say(std::string("ValueError ") + e.what());
  }
  EXPECT_EQ(lines_, (Lines{"main start", "ValueError ValueError(1)", "main start", "task start",
                           "ValueError ValueError(2)", "main start", "ValueError ValueError(3)"}));
}

// asyncio_wait_for_linked_task (MicroPython issue 16759): a chain of tasks each awaiting the
// previous one, driven from a coroutine and then by run_until_complete on the tasks themselves.
ua::Coro<void> linked_job(ua::Task<void> prerequisite, std::string name) {
  if (prerequisite) co_await prerequisite;
  co_await ua::sleep(0.1);
  say(at(name + " work completed"));
}

std::vector<ua::Task<void>> plan_linked_tasks() {
  ua::Loop& loop = ua::get_event_loop();
  std::vector<ua::Task<void>> tasks;
  tasks.push_back(loop.create_task(linked_job({}, "task0")));
  tasks.push_back(loop.create_task(linked_job(tasks[0], "task1")));
  tasks.push_back(loop.create_task(linked_job(tasks[1], "task2")));
  return tasks;
}

ua::Coro<void> linked_async_test() {
  say("--- async test");
  std::vector<ua::Task<void>> tasks = plan_linked_tasks();
  co_await tasks[0];
  say("-> task0 done");
  co_await tasks[2];
  say("-> task2 done");
}

TEST_F(MicroPython, AsyncioWaitForLinkedTask) {
  ua::get_event_loop().run_until_complete(linked_async_test());
  say("--- sync test");
  std::vector<ua::Task<void>> tasks = plan_linked_tasks();
  ua::get_event_loop().run_until_complete(tasks[0]);
  say("-> task0 done");
  ua::get_event_loop().run_until_complete(tasks[2]);
  say("-> task2 done");
  EXPECT_EQ(lines_,
            (Lines{"--- async test", "task0 work completed @100", "-> task0 done",
                   "task1 work completed @200", "task2 work completed @300", "-> task2 done",
                   "--- sync test", "task0 work completed @400", "-> task0 done",
                   "task1 work completed @500", "task2 work completed @600", "-> task2 done"}));
}
