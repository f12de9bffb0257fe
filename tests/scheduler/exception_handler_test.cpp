// §8 unretrieved task exceptions and the loop's exception handler, and a port of MicroPython's
// asyncio_set_exception_handler.
#include <gtest/gtest.h>
#include <uasyncio/uasyncio.hpp>

#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "recorder.hpp"

namespace ua = uasyncio;

namespace {

struct ValueError : std::runtime_error {
  explicit ValueError(const std::string& args) : std::runtime_error("ValueError(" + args + ")") {}
};

std::string describe(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (const ua::CancelledError&) {
    return "CancelledError()";
  } catch (...) {
    return "?";
  }
}

// Records each report as "handler <exception>".
void recording_handler(ua::Loop&, const ua::ExceptionContext& context) {
  say("handler " + describe(context.exception));
}

ua::Coro<void> fail_now(std::string args) {
  throw ValueError(args);
  co_return;
}

ua::Coro<void> fail_after(int ms, std::string args) {
  co_await ua::sleep_ms(ms);
  throw ValueError(args);
}

ua::Coro<void> say_now(std::string line) {
  say(line);
  co_return;
}

ua::Coro<void> sleep_ms_then(int ms, std::string line) {
  co_await ua::sleep_ms(ms);
  say(line);
}

ua::Coro<void> idle(int rounds) {
  for (int i = 0; i < rounds; ++i)
    co_await ua::sleep(0);
}

}  // namespace

using ExceptionHandler = Recorder;

// ---- §8.1 ----

ua::Coro<void> report_comes_after_ready_tasks() {
  ua::create_task(fail_now("1"));
  ua::create_task(say_now("other"));
  co_await ua::sleep(0);
  say("main");
  co_await ua::sleep(0);
  say("main again");
}

TEST_F(ExceptionHandler, ReportComesAfterTheTasksAlreadyReady) {
  ua::get_event_loop().set_exception_handler(recording_handler);
  ua::run(report_comes_after_ready_tasks());
  EXPECT_EQ(lines_, (Lines{"other", "main", "handler ValueError(1)", "main again"}));
}

ua::Coro<void> retrieve_before_report() {
  ua::Task<void> bad = ua::create_task(fail_now("2"));
  co_await ua::sleep(0);  // bad fails and is queued for its report behind this task
  EXPECT_TRUE(bad.done());
  try {
    co_await bad;
  } catch (const ValueError& e) {
    say(e.what());
  }
  co_await idle(3);
}

TEST_F(ExceptionHandler, NotReportedWhenRetrievedBeforeTheReport) {
  ua::get_event_loop().set_exception_handler(recording_handler);
  ua::run(retrieve_before_report());
  EXPECT_EQ(lines_, (Lines{"ValueError(2)"}));
}

ua::Coro<void> result_before_report() {
  ua::Task<void> bad = ua::create_task(fail_now("3"));
  co_await ua::sleep(0);
  try {
    bad.result();
  } catch (const ValueError& e) {
    say(std::string("result ") + e.what());
  }
  co_await idle(3);
}

TEST_F(ExceptionHandler, NotReportedWhenResultWasTakenBeforeTheReport) {
  ua::get_event_loop().set_exception_handler(recording_handler);
  ua::run(result_before_report());
  EXPECT_EQ(lines_, (Lines{"result ValueError(3)"}));
}

// ---- §8.2 ----

TEST_F(ExceptionHandler, DefaultHandlerPrintsTheReportOnStderr) {
  testing::internal::CaptureStderr();
  ua::create_task(fail_now("4"));
  ua::run(idle(2));
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err.rfind("Task exception wasn't retrieved\n", 0), 0u) << err;
  EXPECT_NE(err.find("future: <Task"), std::string::npos) << err;
  EXPECT_NE(err.find("ValueError(4)"), std::string::npos) << err;
}

TEST_F(ExceptionHandler, CustomHandlerReplacesTheDefaultOutput) {
  ua::get_event_loop().set_exception_handler(recording_handler);
  testing::internal::CaptureStderr();
  ua::create_task(fail_now("5"));
  ua::run(idle(2));
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(lines_, (Lines{"handler ValueError(5)"}));
}

// ---- §8.3 ----

ua::Coro<void> cancelled_tasks_unawaited() {
  ua::Task<void> sleeping = ua::create_task(sleep_ms_then(100, "never"));
  ua::Task<void> unstarted = ua::create_task(say_now("never either"));
  unstarted.cancel();
  co_await ua::sleep(0);
  sleeping.cancel();
  co_await idle(3);
  EXPECT_TRUE(sleeping.cancelled());
  EXPECT_TRUE(unstarted.cancelled());
}

TEST_F(ExceptionHandler, NotReportedForCancelledError) {
  ua::get_event_loop().set_exception_handler(recording_handler);
  ua::run(cancelled_tasks_unawaited());
  EXPECT_EQ(lines_, Lines{});
}

TEST_F(ExceptionHandler, NotReportedForANormalReturn) {
  ua::get_event_loop().set_exception_handler(recording_handler);
  ua::create_task(say_now("returned"));
  ua::run(idle(3));
  EXPECT_EQ(lines_, (Lines{"returned"}));
}

ua::Coro<void> main_fails() {
  co_await ua::sleep(0);
  throw ValueError("6");
}

TEST_F(ExceptionHandler, MainTaskExceptionEscapesRunAndIsNotReported) {
  ua::get_event_loop().set_exception_handler(recording_handler);
  try {
    ua::run(main_fails());
    say("no exception");
  } catch (const ValueError& e) {
    say(std::string("run raised ") + e.what());
  }
  ua::run(idle(3));  // a report queued by the failed main would come out here
  EXPECT_EQ(lines_, (Lines{"run raised ValueError(6)"}));
}

// ---- §8.4 ----

TEST_F(ExceptionHandler, GetReturnsNoHandlerByDefaultAndTheOneSet) {
  ua::Loop& loop = ua::get_event_loop();
  EXPECT_FALSE(loop.get_exception_handler());
  loop.set_exception_handler(recording_handler);
  using Fn = void (*)(ua::Loop&, const ua::ExceptionContext&);
  const Fn* fn = loop.get_exception_handler().target<Fn>();
  ASSERT_NE(fn, nullptr);
  EXPECT_EQ(*fn, &recording_handler);
  loop.set_exception_handler(nullptr);
  EXPECT_FALSE(loop.get_exception_handler());
}

TEST_F(ExceptionHandler, HandlerReceivesMessageExceptionAndFuture) {
  std::vector<ua::ExceptionContext> seen;
  ua::get_event_loop().set_exception_handler(
      [&seen](ua::Loop&, const ua::ExceptionContext& c) { seen.push_back(c); });
  ua::Task<void> bad = ua::get_event_loop().create_task(fail_now("7"));
  ua::run(idle(2));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].message, "Task exception wasn't retrieved");
  EXPECT_EQ(describe(seen[0].exception), "ValueError(7)");
  EXPECT_EQ(seen[0].exception, bad.exception());
  EXPECT_TRUE(seen[0].future == bad);
  EXPECT_TRUE(seen[0].future.done());
}

ua::Coro<void> three_fail_together() {
  ua::create_task(fail_now("1"));
  ua::create_task(fail_now("2"));
  ua::create_task(fail_now("3"));
  co_await idle(2);
}

TEST_F(ExceptionHandler, ReportsInTaskOrder) {
  ua::get_event_loop().set_exception_handler(recording_handler);
  ua::run(three_fail_together());
  EXPECT_EQ(lines_,
            (Lines{"handler ValueError(1)", "handler ValueError(2)", "handler ValueError(3)"}));
}

ua::Coro<void> fail_in_reverse_order() {
  ua::create_task(fail_after(30, "first created"));
  ua::create_task(fail_after(20, "second created"));
  ua::create_task(fail_after(10, "third created"));
  co_await ua::sleep_ms(50);
}

TEST_F(ExceptionHandler, ReportsFollowTheOrderTheTasksFailed) {
  ua::get_event_loop().set_exception_handler(recording_handler);
  ua::run(fail_in_reverse_order());
  EXPECT_EQ(lines_,
            (Lines{"handler ValueError(third created)", "handler ValueError(second created)",
                   "handler ValueError(first created)"}));
}

TEST_F(ExceptionHandler, CallExceptionHandlerUsesTheCustomHandler) {
  ua::Loop& loop = ua::get_event_loop();
  loop.set_exception_handler(recording_handler);
  loop.call_exception_handler({"by hand", std::make_exception_ptr(ValueError("8")), {}});
  EXPECT_EQ(lines_, (Lines{"handler ValueError(8)"}));
}

TEST_F(ExceptionHandler, CallExceptionHandlerFallsBackToTheDefault) {
  testing::internal::CaptureStderr();
  ua::get_event_loop().call_exception_handler(
      {"by hand", std::make_exception_ptr(ValueError("9")), {}});
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err.rfind("by hand\n", 0), 0u) << err;
  EXPECT_NE(err.find("ValueError(9)"), std::string::npos) << err;
}

TEST_F(ExceptionHandler, CustomHandlerCanDelegateToTheDefault) {
  ua::get_event_loop().set_exception_handler([](ua::Loop& loop, const ua::ExceptionContext& c) {
    say("custom first");
    ua::Loop::default_exception_handler(loop, c);
  });
  testing::internal::CaptureStderr();
  ua::create_task(fail_now("10"));
  ua::run(idle(2));
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(lines_, (Lines{"custom first"}));
  EXPECT_EQ(err.rfind("Task exception wasn't retrieved\n", 0), 0u) << err;
  EXPECT_NE(err.find("ValueError(10)"), std::string::npos) << err;
}

// ---- §8.5 (and the gather cases around it) ----

ua::Coro<void> gather_finished_failed_child(bool return_exceptions) {
  ua::Task<void> bad = ua::create_task(fail_now("11"));
  co_await ua::sleep(0);  // bad has failed; its report is queued behind this task
  if (return_exceptions) {
    auto [outcome] = co_await ua::gather(ua::return_exceptions, bad);
    say("outcome " + describe(outcome.exception()));
  } else {
    try {
      co_await ua::gather(bad);
    } catch (const ValueError& e) {
      say(std::string("gather raised ") + e.what());
    }
  }
  co_await idle(2);
}

TEST_F(ExceptionHandler, GatherDoesNotRetrieveAFinishedFailedChild) {
  ua::get_event_loop().set_exception_handler(recording_handler);
  ua::run(gather_finished_failed_child(false));
  EXPECT_EQ(lines_, (Lines{"gather raised ValueError(11)", "handler ValueError(11)"}));
}

TEST_F(ExceptionHandler, GatherWithReturnExceptionsDoesNotRetrieveAFinishedFailedChild) {
  ua::get_event_loop().set_exception_handler(recording_handler);
  ua::run(gather_finished_failed_child(true));
  EXPECT_EQ(lines_, (Lines{"outcome ValueError(11)", "handler ValueError(11)"}));
}

ua::Coro<void> child_fails_inside_gather() {
  ua::Task<void> bad = ua::create_task(fail_after(10, "12"));
  auto [outcome] = co_await ua::gather(ua::return_exceptions, bad);
  say("outcome " + describe(outcome.exception()));
  co_await idle(2);
}

TEST_F(ExceptionHandler, FailureSeenByARunningGatherIsNotReported) {
  ua::get_event_loop().set_exception_handler(recording_handler);
  ua::run(child_fails_inside_gather());
  EXPECT_EQ(lines_, (Lines{"outcome ValueError(12)"}));
}

// ---- MicroPython tests/extmod/asyncio_set_exception_handler.py ----

using MicroPython = Recorder;

void custom_handler(ua::Loop&, const ua::ExceptionContext& context) {
  say("custom_handler " + describe(context.exception));
}

ua::Coro<void> set_exception_handler_main() {
  ua::Loop& loop = ua::get_event_loop();
  say(loop.get_exception_handler() ? "handler" : "None");
  loop.set_exception_handler(custom_handler);
  using Fn = void (*)(ua::Loop&, const ua::ExceptionContext&);
  const Fn* fn = loop.get_exception_handler().target<Fn>();
  say(fn != nullptr && *fn == &custom_handler ? "True" : "False");

  ua::create_task(fail_now("0, 1"));
  say("sleep");
  co_await idle(2);

  ua::create_task(fail_now("1, 2"));
  ua::create_task(fail_now("2, 3"));
  say("sleep");
  co_await idle(2);

  ua::Task<void> t = ua::create_task(fail_now("3, 4"));
  co_await ua::sleep(0);
  try {
    co_await t;
  } catch (const ValueError& e) {
    say(e.what());
  }
  say("done");
}

TEST_F(MicroPython, AsyncioSetExceptionHandler) {
  ua::run(set_exception_handler_main());
  EXPECT_EQ(lines_, (Lines{"None", "True", "sleep", "custom_handler ValueError(0, 1)", "sleep",
                           "custom_handler ValueError(1, 2)", "custom_handler ValueError(2, 3)",
                           "ValueError(3, 4)", "done"}));
}
