// §4.9: the Loop object — get_event_loop, run_until_complete, run_forever/stop, new_event_loop,
// close.
#include <uasyncio/uasyncio.hpp>

#include <string>
#include <vector>

#include "loop_fixture.hpp"

namespace ua = uasyncio;

namespace {

class Loop : public LoopTest {
 protected:
  ua::Coro<void> start_sleep_end() {
    log("start");
    co_await ua::sleep(0.01);
    log("end");
  }

  ua::Coro<int> returns_after(int ms, int v) {
    co_await ua::sleep_ms(ms);
    co_return v;
  }

  // MicroPython tests/extmod/asyncio_loop_stop.py
  ua::Coro<void> stop_task() {
    log("task");
    co_return;
  }
  ua::Coro<void> stop_main() {
    ua::Loop& loop = ua::get_event_loop();
    log("start");
    loop.stop();
    loop.stop();
    log("sleep");
    co_await ua::sleep(0);
    loop.stop();
    ua::create_task(stop_task());
    co_await ua::sleep(0);
    log("end");
    loop.stop();
  }

  // MicroPython tests/extmod/asyncio_new_event_loop.py
  ua::Coro<void> nel_task() {
    for (int i = 0; i < 4; ++i) {
      log("task " + std::to_string(i));
      co_await ua::sleep(0);
      co_await ua::sleep(0);
    }
  }
  ua::Coro<void> nel_main() {
    log("start");
    ua::get_event_loop().create_task(nel_task());
    co_await ua::sleep(0);
    log("stop");
    ua::get_event_loop().stop();
  }

  ua::Coro<void> stops_twice_then_works() {
    ua::Loop& loop = ua::get_event_loop();
    loop.stop();
    loop.stop();
    co_await ua::sleep(0);
    log("resumed at " + std::to_string(elapsed_ms()));
    co_await ua::sleep_ms(5);
    log("stopping at " + std::to_string(elapsed_ms()));
    loop.stop();
  }

  ua::Coro<void> stops_after(int ms) {
    co_await ua::sleep_ms(ms);
    ua::get_event_loop().stop();
  }

  ua::Coro<void> note(std::string what) {
    log(what);
    co_return;
  }
};

}  // namespace

// §4.9
TEST_F(Loop, GetEventLoopIsASingleton) {
  EXPECT_EQ(&ua::get_event_loop(), &ua::get_event_loop());
  EXPECT_EQ(&ua::new_event_loop(), &ua::get_event_loop());
}

// §4.9: run_until_complete promotes a coroutine to a task.
TEST_F(Loop, RunUntilCompleteTakesCoroOrTask) {
  ua::Loop& loop = ua::get_event_loop();
  EXPECT_EQ(loop.run_until_complete(returns_after(5, 1)), 1);
  ua::Task<int> t = loop.create_task(returns_after(5, 2));
  EXPECT_EQ(loop.run_until_complete(t), 2);
  EXPECT_EQ(loop.run_until_complete(t), 2);  // already finished: just its result
  EXPECT_EQ(elapsed_ms(), 10);
}

// §4.9: run_forever returns only once stop() is called.
TEST_F(Loop, RunForeverRunsUntilStop) {
  ua::Loop& loop = ua::get_event_loop();
  loop.create_task(stops_after(30));
  loop.run_forever();
  EXPECT_EQ(elapsed_ms(), 30);
}

// §4.9: a second stop() before the first takes effect adds nothing: the next run_forever runs
// until the next stop().
TEST_F(Loop, SecondStopBeforeItRunsIsNoOp) {
  ua::Loop& loop = ua::get_event_loop();
  loop.create_task(stops_twice_then_works());
  loop.run_forever();
  EXPECT_TRUE(lines_.empty());
  loop.run_forever();
  EXPECT_EQ(lines_, (std::vector<std::string>{"resumed at 0", "stopping at 5"}));
}

// §4.9: close() is a no-op; the loop keeps working.
TEST_F(Loop, CloseIsNoOp) {
  ua::Loop& loop = ua::get_event_loop();
  loop.close();
  EXPECT_EQ(loop.run_until_complete(returns_after(5, 3)), 3);
}

// §4.9: new_event_loop() discards queued tasks: they never run, not even at later runs.
TEST_F(Loop, NewEventLoopDiscardsQueuedTasks) {
  ua::Task<void> dropped = ua::create_task(note("dropped task ran"));
  ua::Task<int> sleeping = ua::create_task(returns_after(5, 1));
  ua::new_event_loop();
  ua::run(returns_after(20, 0));
  EXPECT_TRUE(lines_.empty());
  EXPECT_FALSE(dropped.done());
  EXPECT_FALSE(sleeping.done());
}

// MicroPython tests/extmod/asyncio_get_event_loop.py
TEST_F(Loop, PortOfAsyncioGetEventLoop) {
  ua::get_event_loop().run_until_complete(start_sleep_end());
  EXPECT_EQ(lines_, (std::vector<std::string>{"start", "end"}));
  EXPECT_EQ(elapsed_ms(), 10);
}

// MicroPython tests/extmod/asyncio_loop_stop.py
TEST_F(Loop, PortOfAsyncioLoopStop) {
  ua::Loop& loop = ua::get_event_loop();
  loop.create_task(stop_main());
  for (int i = 0; i < 3; ++i) {
    log("run " + std::to_string(i));
    loop.run_forever();
  }
  EXPECT_EQ(lines_,
            (std::vector<std::string>{"run 0", "start", "sleep", "run 1", "run 2", "task", "end"}));
}

// MicroPython tests/extmod/asyncio_new_event_loop.py
TEST_F(Loop, PortOfAsyncioNewEventLoop) {
  ua::Loop* loop = &ua::get_event_loop();
  loop->create_task(nel_main());
  loop->run_forever();
  loop = &ua::new_event_loop();
  loop->create_task(nel_main());
  loop->run_forever();
  EXPECT_EQ(lines_,
            (std::vector<std::string>{"start", "task 0", "stop", "start", "task 0", "stop"}));
}
