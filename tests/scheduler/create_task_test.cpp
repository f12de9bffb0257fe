// §3: create_task only queues; the body runs when the scheduler gets to it.
#include <uasyncio/uasyncio.hpp>

#include <string>
#include <vector>

#include "loop_fixture.hpp"

namespace ua = uasyncio;

namespace {

class CreateTask : public LoopTest {
 protected:
  ua::Coro<void> note(std::string what) {
    log(what);
    co_return;
  }

  ua::Coro<int> main_notes() {
    log("main");
    co_return 1;
  }

  ua::Coro<void> creates_then_works() {
    ua::Task<void> t = ua::create_task(note("task body"));
    log("created, done=" + std::to_string(t.done()));
    log("still not yielded");
    co_await ua::sleep(0);
    log("main resumed, done=" + std::to_string(t.done()));
  }

  ua::Coro<void> creates_c() {
    log("A");
    ua::create_task(note("C"));
    co_return;
  }

  ua::Coro<void> creates_in_order() {
    ua::create_task(creates_c());
    ua::create_task(note("B"));
    co_await ua::sleep(0);
    log("main");
    co_await ua::sleep(0);
    log("main again");
  }

  ua::Coro<void> creates_several() {
    for (int i = 0; i < 5; ++i)
      ua::create_task(note("task " + std::to_string(i)));
    co_await ua::sleep(0);
  }
};

}  // namespace

// §3.2: with no loop running the task waits, and runs at the next run() before that run's main.
TEST_F(CreateTask, WithoutRunningLoopRunsAtNextRunBeforeMain) {
  ua::Task<void> t = ua::create_task(note("early task"));
  EXPECT_FALSE(t.done());
  EXPECT_TRUE(lines_.empty());
  EXPECT_EQ(ua::run(main_notes()), 1);
  EXPECT_TRUE(t.done());
  EXPECT_EQ(lines_, (std::vector<std::string>{"early task", "main"}));
}

// §3.2 through the Loop object (MicroPython's `loop.create_task`).
TEST_F(CreateTask, LoopCreateTaskWithoutRunningLoopRunsAtNextRun) {
  ua::Loop& loop = ua::get_event_loop();
  loop.create_task(note("first"));
  loop.create_task(note("second"));
  EXPECT_EQ(loop.run_until_complete(main_notes()), 1);
  EXPECT_EQ(lines_, (std::vector<std::string>{"first", "second", "main"}));
}

// §3.3
TEST_F(CreateTask, BodyStartsOnlyWhenCreatorYields) {
  ua::run(creates_then_works());
  EXPECT_EQ(lines_, (std::vector<std::string>{"created, done=0", "still not yielded", "task body",
                                              "main resumed, done=1"}));
}

// §3.2: the new task is keyed "now", so it queues behind everything already ready.
TEST_F(CreateTask, NewTaskQueuesBehindReadyTasks) {
  ua::run(creates_in_order());
  EXPECT_EQ(lines_, (std::vector<std::string>{"A", "B", "main", "C", "main again"}));
}

// §3.2/§4.1: tasks created together start in creation order.
TEST_F(CreateTask, TasksStartInCreationOrder) {
  ua::run(creates_several());
  EXPECT_EQ(lines_, (std::vector<std::string>{"task 0", "task 1", "task 2", "task 3", "task 4"}));
}
