// §6: Task.cancel() — return values, forwarding to the awaited task, wake-up, delivery.
#include <uasyncio/uasyncio.hpp>

#include <string>
#include <vector>

#include "loop_fixture.hpp"
#include "test_gate.hpp"

namespace ua = uasyncio;

namespace {

std::string py_bool(bool b) {
  return b ? "True" : "False";
}

class Cancel : public LoopTest {
 protected:
  std::string at() { return std::to_string(elapsed_ms()) + " "; }

  ua::Coro<int> returns_after(int ms, int v) {
    co_await ua::sleep_ms(ms);
    co_return v;
  }
  ua::Coro<void> let_run(int ms) { co_await ua::sleep_ms(ms); }

  ua::Coro<void> cancels_itself() {
    co_await ua::sleep(0);
    try {
      ua::current_task().cancel();
      log("no error");
    } catch (const ua::RuntimeError& e) {
      log(e.what());
    }
  }

  // A task that logs how a cancel reaches it, then passes it on.
  ua::Coro<int> level(std::string name, int depth) {
    try {
      if (depth == 0) {
        co_await ua::sleep(10);
        co_return 0;
      }
      co_return co_await ua::create_task(level("inner", depth - 1));
    } catch (const ua::CancelledError&) {
      log(at() + name + " cancelled");
      throw;
    }
  }
  ua::Coro<void> cancels_chain(int depth) {
    ua::Task<int> outer = ua::create_task(level("outer", depth));
    co_await ua::sleep_ms(5);
    outer.cancel();
    try {
      co_await outer;
    } catch (const ua::CancelledError&) {
      log(at() + "main got CancelledError");
    }
  }

  ua::Coro<int> swallows_cancel() {
    try {
      co_await ua::sleep(10);
    } catch (const ua::CancelledError&) {
      log(at() + "inner swallowed cancel");
    }
    co_return 7;
  }
  ua::Coro<void> awaits_swallower() {
    const int v = co_await ua::create_task(swallows_cancel());
    log(at() + "outer got " + std::to_string(v));
    co_await ua::sleep_ms(3);
    log(at() + "outer done");
  }
  ua::Coro<void> cancels_awaiting_outer() {
    ua::Task<void> outer = ua::create_task(awaits_swallower());
    co_await ua::sleep_ms(5);
    outer.cancel();
    co_await outer;
    log(at() + "outer cancelled() = " + py_bool(outer.cancelled()));
  }

  ua::Coro<void> long_sleeper() {
    try {
      co_await ua::sleep(10);
      log(at() + "sleep ended");
    } catch (const ua::CancelledError&) {
      log(at() + "sleeper cancelled");
    }
  }
  ua::Coro<void> cancels_sleeper() {
    ua::Task<void> t = ua::create_task(long_sleeper());
    co_await ua::sleep_ms(100);
    t.cancel();
    co_await t;
  }

  test_support::Gate gate_;
  ua::Coro<void> waits_on_gate() {
    try {
      co_await gate_;
      log("gate opened");
    } catch (const ua::CancelledError&) {
      log(at() + "gate waiter cancelled");
    }
  }
  ua::Coro<void> cancels_gate_waiter() {
    ua::Task<void> t = ua::create_task(waits_on_gate());
    co_await ua::sleep_ms(5);
    t.cancel();
    log(gate_.empty() ? "left the gate" : "still at the gate");
    co_await t;
  }

  ua::Coro<void> sleep0_step(std::string name) {
    try {
      log("start " + name);
      co_await ua::sleep(0);
      log("done " + name);
    } catch (const ua::CancelledError&) {
      log("cancelled " + name);
    }
  }
  ua::Coro<void> cancels_due_task() {
    ua::Task<void> a = ua::create_task(sleep0_step("A"));
    ua::Task<void> b = ua::create_task(sleep0_step("B"));
    co_await ua::sleep(0);
    // A and B are both due (A ahead of B); a cancel must not send A to the back.
    a.cancel();
    co_await a;
    co_await b;
  }

  ua::Coro<void> catches_each_cancel() {
    for (int i = 0; i < 2; ++i) {
      try {
        co_await ua::sleep_ms(10);
        log(at() + "slept");
      } catch (const ua::CancelledError&) {
        log(at() + "cancelled");
      }
    }
  }
  ua::Coro<void> cancels_four_times() {
    ua::Task<void> t = ua::create_task(catches_each_cancel());
    co_await ua::sleep_ms(1);
    for (int i = 0; i < 4; ++i)
      log(py_bool(t.cancel()));
    co_await t;
    log(py_bool(t.cancel()));
  }

  ua::Coro<int> returns_despite_cancel() {
    log("before");
    try {
      co_await ua::sleep_ms(100);
      log("slept");
    } catch (const ua::CancelledError&) {
      log(at() + "caught at the await point");
    }
    log("after");
    co_return 5;
  }
  ua::Coro<int> cancels_then_awaits_value() {
    ua::Task<int> t = ua::create_task(returns_despite_cancel());
    co_await ua::sleep_ms(10);
    t.cancel();
    const int v = co_await t;
    log("cancelled() = " + py_bool(t.cancelled()));
    co_return v;
  }

  ua::Coro<void> body_logs() {
    try {
      log("body start");
      co_await ua::sleep(0);
      log("body end");
    } catch (const ua::CancelledError&) {
      log("body saw CancelledError");
    }
  }
  ua::Coro<void> cancels_before_start() {
    ua::Task<void> t = ua::create_task(body_logs());
    log("cancel " + py_bool(t.cancel()));
    try {
      co_await t;
      log("await returned");
    } catch (const ua::CancelledError&) {
      log("await raised CancelledError");
    }
    log("cancelled() = " + py_bool(t.cancelled()));
  }

  ua::Coro<void> checks_done_after_cancel() {
    ua::Task<int> t = ua::create_task(returns_after(100, 1));
    co_await ua::sleep(0);
    t.cancel();
    log("after cancel done=" + py_bool(t.done()));
    co_await ua::sleep(0);
    log("after yield done=" + py_bool(t.done()));
  }

  ua::Coro<void> cancel_unawaited() {
    ua::Task<int> sleeping = ua::create_task(returns_after(100, 1));
    co_await ua::sleep(0);
    sleeping.cancel();
    ua::Task<int> unstarted = ua::create_task(returns_after(100, 2));
    unstarted.cancel();
    co_await ua::sleep_ms(200);
    log(py_bool(sleeping.cancelled() && unstarted.cancelled()));
  }

  // MicroPython tests/extmod/asyncio_cancel_task.py
  ua::Coro<void> ct_task(double s, bool allow_cancel) {
    try {
      log("task start");
      co_await ua::sleep(s);
      log("task done");
    } catch (const ua::CancelledError&) {
      log("task cancel");
      if (allow_cancel) throw;
    }
  }
  ua::Coro<void> ct_task2(bool allow_cancel) {
    log("task 2");
    try {
      co_await ua::create_task(ct_task(0.05, allow_cancel));
    } catch (const ua::CancelledError&) {
      log("task 2 cancel");
      throw;
    }
    log("task 2 done");
  }
  ua::Coro<void> port_of_cancel_task() {
    ua::Task<void> t = ua::create_task(ct_task(2, true));
    log(py_bool(t.cancel()));

    t = ua::create_task(ct_task(2, true));
    co_await ua::sleep(0.01);
    log(py_bool(t.cancel()));
    log("main sleep");
    co_await ua::sleep(0.01);

    t = ua::create_task(ct_task(2, true));
    co_await ua::sleep(0.01);
    for (int i = 0; i < 4; ++i)
      log(py_bool(t.cancel()));
    log("main sleep");
    co_await ua::sleep(0.01);

    log("main wait");
    try {
      co_await t;
    } catch (const ua::CancelledError&) {
      log("main got CancelledError");
    }

    t = ua::create_task(ct_task(0.01, false));
    co_await ua::sleep(0.05);
    log(py_bool(t.cancel()));

    log("----");
    t = ua::create_task(ct_task2(true));
    co_await ua::sleep(0.01);
    log("main cancel");
    t.cancel();
    log("main sleep");
    co_await ua::sleep(0.1);

    log("----");
    t = ua::create_task(ct_task2(false));
    co_await ua::sleep(0.01);
    log("main cancel");
    t.cancel();
    log("main sleep");
    co_await ua::sleep(0.1);
  }

  // MicroPython tests/extmod/asyncio_cancel_self.py
  ua::Task<void> global_task_;
  ua::Coro<void> cs_task() {
    log("task start");
    global_task_.cancel();
    co_return;
  }
  ua::Coro<void> cs_main() {
    global_task_ = ua::create_task(cs_task());
    try {
      co_await global_task_;
    } catch (const ua::CancelledError&) {
      log("main cancel");
    }
    log("main done");
  }

  // MicroPython tests/extmod/asyncio_cancel_wait_on_finished.py
  ua::Coro<void> wf_sleep_task() {
    log("sleep_task sleep");
    co_await ua::sleep(0);
    log("sleep_task wake");
  }
  ua::Coro<void> wf_wait_task(ua::Task<void> t) {
    log("wait_task wait");
    co_await t;
    log("wait_task wake");
  }
  ua::Coro<void> port_of_cancel_wait_on_finished() {
    ua::Task<void> waiting_task = ua::create_task(wf_wait_task(ua::create_task(wf_sleep_task())));
    log("main sleep");
    co_await ua::sleep(0);
    log("main sleep");
    co_await ua::sleep(0);
    waiting_task.cancel();
    log("main wait");
    try {
      co_await waiting_task;
    } catch (const ua::CancelledError&) {
      log("CancelledError()");
    }
  }

  // MicroPython tests/extmod/asyncio_cancel_fair.py
  std::vector<ua::Task<void>> tasks_;
  ua::Coro<void> cf_task(int id, int other) {
    for (int i = 0; i < 3; ++i) {
      try {
        log("start " + std::to_string(id));
        co_await ua::sleep(0);
        log("done " + std::to_string(id));
      } catch (const ua::CancelledError&) {
        log("cancelled " + std::to_string(id));
      }
      if (other >= 0) {
        log(std::to_string(id) + " cancels " + std::to_string(other));
        tasks_[other].cancel();
      }
    }
  }
  ua::Coro<void> port_of_cancel_fair() {
    tasks_ = {ua::create_task(cf_task(0, 1)), ua::create_task(cf_task(1, 0)),
              ua::create_task(cf_task(2, -1))};
    co_await tasks_[2];
  }

  // MicroPython tests/extmod/asyncio_cancel_fair2.py
  ua::Coro<void> cf2_task_a() {
    try {
      for (;;) {
        log("sleep a");
        co_await ua::sleep(0);
      }
    } catch (const ua::CancelledError&) {
      log("cancelled a");
    }
  }
  ua::Coro<void> cf2_task_b(int id, ua::Task<void> other) {
    while (other.cancel()) {
      log("sleep b " + std::to_string(id));
      co_await ua::sleep(0);
    }
    log("done b " + std::to_string(id));
  }
  ua::Coro<void> port_of_cancel_fair2() {
    ua::Task<void> t = ua::create_task(cf2_task_a());
    for (int i = 0; i < 3; ++i)
      ua::create_task(cf2_task_b(i, t));
    co_await t;
  }
};

}  // namespace

// §6.1
TEST_F(Cancel, FinishedTaskReturnsFalse) {
  ua::Task<int> t = ua::create_task(returns_after(1, 1));
  ua::run(let_run(5));
  ASSERT_TRUE(t.done());
  EXPECT_FALSE(t.cancel());
  EXPECT_FALSE(t.cancelled());
  EXPECT_EQ(t.result(), 1);
}

// §6.2
TEST_F(Cancel, SelfRaisesRuntimeError) {
  ua::run(cancels_itself());
  EXPECT_EQ(lines_, (std::vector<std::string>{"can't cancel self"}));
}

// §6.3: the cancel lands in the awaited task and propagates back up through the awaiter.
TEST_F(Cancel, ForwardsToAwaitedTask) {
  ua::run(cancels_chain(1));
  EXPECT_EQ(lines_, (std::vector<std::string>{"5 inner cancelled", "5 outer cancelled",
                                              "5 main got CancelledError"}));
}

// §6.3: forwarding follows the whole chain of awaits to the innermost task.
TEST_F(Cancel, ForwardsThroughChainToInnermost) {
  ua::run(cancels_chain(3));
  EXPECT_EQ(lines_,
            (std::vector<std::string>{"5 inner cancelled", "5 inner cancelled", "5 inner cancelled",
                                      "5 outer cancelled", "5 main got CancelledError"}));
}

// §6.3: an inner task that swallows the cancel returns normally, and so does its awaiter.
TEST_F(Cancel, SwallowedByAwaitedTaskOuterContinues) {
  ua::run(cancels_awaiting_outer());
  EXPECT_EQ(lines_, (std::vector<std::string>{"5 inner swallowed cancel", "5 outer got 7",
                                              "8 outer done", "8 outer cancelled() = False"}));
}

// §6.4: a cancelled sleeper leaves the timer heap at once: it runs at the current time, not at
// its 10 s deadline (the virtual clock would otherwise have jumped there).
TEST_F(Cancel, SleeperLeavesHeapAtOnce) {
  ua::run(cancels_sleeper());
  EXPECT_EQ(lines_, (std::vector<std::string>{"100 sleeper cancelled"}));
  EXPECT_EQ(elapsed_ms(), 100);
}

// §6.4: a task blocked on a wait queue is unlinked from it and queued.
TEST_F(Cancel, BlockedTaskLeavesItsWaitQueue) {
  ua::run(cancels_gate_waiter());
  EXPECT_EQ(lines_, (std::vector<std::string>{"left the gate", "5 gate waiter cancelled"}));
}

// §6.4: a task already due keeps its place in the queue.
TEST_F(Cancel, DueTaskKeepsItsPlace) {
  ua::run(cancels_due_task());
  EXPECT_EQ(lines_, (std::vector<std::string>{"start A", "start B", "cancelled A", "done B"}));
}

// §6.5: True on every cancel before it runs, one CancelledError delivered; False once done.
TEST_F(Cancel, RepeatedCancelBeforeRunReturnsTrue) {
  ua::run(cancels_four_times());
  EXPECT_EQ(lines_, (std::vector<std::string>{"True", "True", "True", "True", "1 cancelled",
                                              "11 slept", "False"}));
}

// §6.6: delivered at the await point; a task may catch it and return a value.
TEST_F(Cancel, DeliveredAtAwaitPointAndCanBeSwallowed) {
  EXPECT_EQ(ua::run(cancels_then_awaits_value()), 5);
  EXPECT_EQ(lines_, (std::vector<std::string>{"before", "10 caught at the await point", "after",
                                              "cancelled() = False"}));
}

// §6.7
TEST_F(Cancel, BeforeStartRunsNoBody) {
  ua::run(cancels_before_start());
  EXPECT_EQ(lines_, (std::vector<std::string>{"cancel True", "await raised CancelledError",
                                              "cancelled() = True"}));
}

// §6.8
TEST_F(Cancel, DoneFalseRightAfterCancel) {
  ua::run(checks_done_after_cancel());
  EXPECT_EQ(lines_, (std::vector<std::string>{"after cancel done=False", "after yield done=True"}));
}

// §6.8: nobody awaited them, yet no "exception wasn't retrieved" report.
TEST_F(Cancel, CancelledTasksNeverReachExceptionHandler) {
  int reports = 0;
  ua::get_event_loop().set_exception_handler(
      [&reports](ua::Loop&, const ua::ExceptionContext&) { ++reports; });
  ua::run(cancel_unawaited());
  EXPECT_EQ(lines_, (std::vector<std::string>{"True"}));
  EXPECT_EQ(reports, 0);
}

// §6 with §4.7: a leftover task cancelled between runs gets its CancelledError at the next run.
TEST_F(Cancel, BetweenRunsTakesEffectAtNextRun) {
  ua::Task<void> t = ua::create_task(long_sleeper());
  ua::run(let_run(5));
  EXPECT_TRUE(t.cancel());
  EXPECT_FALSE(t.done());
  ua::run(let_run(1));
  EXPECT_TRUE(t.done());
  EXPECT_FALSE(t.cancelled());  // it caught the CancelledError
  EXPECT_EQ(lines_, (std::vector<std::string>{"5 sleeper cancelled"}));
}

// MicroPython tests/extmod/asyncio_cancel_task.py
TEST_F(Cancel, PortOfAsyncioCancelTask) {
  ua::run(port_of_cancel_task());
  EXPECT_EQ(lines_, (std::vector<std::string>{"True",        "task start",
                                              "True",        "main sleep",
                                              "task cancel", "task start",
                                              "True",        "True",
                                              "True",        "True",
                                              "main sleep",  "task cancel",
                                              "main wait",   "main got CancelledError",
                                              "task start",  "task done",
                                              "False",       "----",
                                              "task 2",      "task start",
                                              "main cancel", "main sleep",
                                              "task cancel", "task 2 cancel",
                                              "----",        "task 2",
                                              "task start",  "main cancel",
                                              "main sleep",  "task cancel",
                                              "task 2 done"}));
}

// MicroPython tests/extmod/asyncio_cancel_self.py: the RuntimeError ends the task, reaches main
// through the await and leaves run().
TEST_F(Cancel, PortOfAsyncioCancelSelf) {
  try {
    ua::run(cs_main());
    log("run returned");
  } catch (const ua::RuntimeError& e) {
    log(e.what());
  }
  EXPECT_EQ(lines_, (std::vector<std::string>{"task start", "can't cancel self"}));
}

// MicroPython tests/extmod/asyncio_cancel_wait_on_finished.py
TEST_F(Cancel, PortOfAsyncioCancelWaitOnFinished) {
  ua::run(port_of_cancel_wait_on_finished());
  EXPECT_EQ(lines_, (std::vector<std::string>{"main sleep", "sleep_task sleep", "wait_task wait",
                                              "main sleep", "sleep_task wake", "main wait",
                                              "CancelledError()"}));
}

// MicroPython tests/extmod/asyncio_cancel_fair.py
TEST_F(Cancel, PortOfAsyncioCancelFair) {
  ua::run(port_of_cancel_fair());
  EXPECT_EQ(lines_, (std::vector<std::string>{
                        "start 0",     "start 1",     "start 2",     "done 0",  "0 cancels 1",
                        "start 0",     "cancelled 1", "1 cancels 0", "start 1", "done 2",
                        "start 2",     "cancelled 0", "0 cancels 1", "start 0", "cancelled 1",
                        "1 cancels 0", "start 1",     "done 2",      "start 2", "cancelled 0",
                        "0 cancels 1", "cancelled 1", "1 cancels 0", "done 2"}));
}

// MicroPython tests/extmod/asyncio_cancel_fair2.py
TEST_F(Cancel, PortOfAsyncioCancelFair2) {
  ua::run(port_of_cancel_fair2());
  EXPECT_EQ(lines_, (std::vector<std::string>{"sleep a", "sleep b 0", "sleep b 1", "sleep b 2",
                                              "cancelled a", "done b 0", "done b 1", "done b 2"}));
}
