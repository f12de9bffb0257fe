// The runner on a virtual-clock loop: spec trees run with uasyncio's semantics, and each step's
// state is recorded under its id.
#include <gtest/gtest.h>

#include <unistd.h>

#include <memory>

#include "loop_fixture.hpp"
#include "uasyncd/runner/job_runner.hpp"

namespace srv = uasyncd::server;
namespace ua = uasyncio;
using nlohmann::json;
using srv::JobState;

namespace {

std::shared_ptr<srv::Job> make_job(const json& doc) {
  srv::ParsedSpec p = srv::parse_job_spec(doc);
  EXPECT_TRUE(p) << p.error.message;
  return std::make_shared<srv::Job>(1, std::make_shared<srv::JobSpec>(std::move(*p.spec)),
                                    std::make_shared<json>(doc), 0);
}

// A runner whose jobs' ends are counted, and a coroutine that waits for the first end.
class Engine : public LoopTest {
 protected:
  srv::JobRunner runner{srv::RunnerHooks{[this](srv::Job&) { ended.set(); }, {}, {}}, 5000, true};
  ua::Event ended;

  static ua::Coro<void> wait_done(Engine* self) { co_await self->ended.wait(); }
  void run_until_done() { ua::run(wait_done(this)); }
};

ua::Coro<void> cancel_at(srv::JobRunner* runner, std::size_t step, int ms) {
  co_await ua::sleep_ms(ms);
  runner->cancel_step(1, step);
}

ua::Coro<void> time_out_at(srv::JobRunner* runner, int ms) {
  co_await ua::sleep_ms(ms);
  runner->time_out(1);
}

}  // namespace

// The exec gate holds where the step starts, not only at submit: a task queued by a daemon that
// allowed exec and run by one that does not (a restart) fails that step, and runs nothing.
TEST_F(Engine, AnExecStepStartedWithoutAllowExecFailsAndRunsNothing) {
  srv::JobRunner strict{srv::RunnerHooks{[this](srv::Job&) { ended.set(); }, {}, {}}, 5000, false};
  const std::string marker = "/tmp/uasyncd-exec-gate-" + std::to_string(::getpid());
  auto task = make_job(json{{"exec", {"touch", marker}}});
  strict.start(task);
  run_until_done();
  EXPECT_EQ(task->state(), JobState::failed);
  EXPECT_NE(task->error().value_or(srv::ErrorInfo{}).message.find("--allow-exec"),
            std::string::npos);
  EXPECT_NE(::access(marker.c_str(), F_OK), 0) << "the command ran";
  ::unlink(marker.c_str());
}

TEST_F(Engine, SeedGatherExampleCancelsBarAtFiveSeconds) {
  auto task = make_job(json::parse(R"({"gather": [
      {"name": "bar", "sleep": 1e6},
      {"name": "barking", "sequence": [{"sleep": 6}, {"value": 42}]},
      {"wait_for": {"name": "foo", "sleep": 1e6}, "timeout": 7}],
    "return_exceptions": true})"));
  runner.start(task);
  ua::create_task(cancel_at(&runner, 1, 5000));
  run_until_done();
  EXPECT_EQ(elapsed_ms(), 7000);
  EXPECT_EQ(task->state(), JobState::done);
  ASSERT_EQ(task->result().size(), 3u);
  EXPECT_EQ(task->result()[0]["error"]["type"], "CancelledError");
  EXPECT_EQ(task->result()[1], 42);
  EXPECT_EQ(task->result()[2]["error"]["type"], "TimeoutError");
  EXPECT_EQ(task->step(1).state(), JobState::cancelled);
  EXPECT_EQ(task->step(2).state(), JobState::done);
  EXPECT_EQ(task->step(5).state(), JobState::timed_out);
  EXPECT_EQ(task->step(6).state(), JobState::cancelled);  // foo, cancelled by the timeout
}

TEST_F(Engine, GatherWithoutReturnExceptionsRaisesTheFirstFailure) {
  auto task = make_job(json::parse(
      R"({"gather": [{"sequence": [{"sleep": 2}, {"fail": "late"}]},
                     {"sequence": [{"sleep": 1}, {"fail": "early"}]}]})"));
  runner.start(task);
  run_until_done();
  EXPECT_EQ(elapsed_ms(), 1000);
  EXPECT_EQ(task->state(), JobState::failed);
  EXPECT_EQ(task->error()->message, "early");
  EXPECT_EQ(task->error()->type, "Exception");
}

TEST_F(Engine, RootTimeoutEndsTimedOut) {
  auto task = make_job(json::parse(R"({"sleep": 10, "timeout": 2.5})"));
  runner.start(task);
  run_until_done();
  EXPECT_EQ(elapsed_ms(), 2500);
  EXPECT_EQ(task->state(), JobState::timed_out);
  EXPECT_EQ(task->step(0).state(), JobState::cancelled);
}

TEST_F(Engine, WaitForMsReturnsTheValueWhenInTime) {
  auto task = make_job(json::parse(
      R"({"wait_for_ms": {"sequence": [{"sleep_ms": 300}, {"value": {"k": [1, 2]}}]}, "timeout": 500})"));
  runner.start(task);
  run_until_done();
  EXPECT_EQ(elapsed_ms(), 300);
  EXPECT_EQ(task->state(), JobState::done);
  EXPECT_EQ(task->result(), json::parse(R"({"k": [1, 2]})"));
}

TEST_F(Engine, SequenceReturnsTheLastResult) {
  auto task =
      make_job(json::parse(R"({"sequence": [{"value": 1}, {"sleep_ms": 5}, {"value": "x"}]})"));
  runner.start(task);
  run_until_done();
  EXPECT_EQ(task->result(), "x");
  EXPECT_EQ(task->step(2).state(), JobState::done);
}

TEST_F(Engine, CancellingTheTaskCancelsTheStepItWaitsIn) {
  auto task =
      make_job(json::parse(R"({"sequence": [{"sleep": 1}, {"sleep": 100}, {"value": 3}]})"));
  runner.start(task);
  ua::create_task(cancel_at(&runner, 0, 5000));
  run_until_done();
  EXPECT_EQ(elapsed_ms(), 5000);
  EXPECT_EQ(task->state(), JobState::cancelled);
  EXPECT_EQ(task->step(1).state(), JobState::done);
  EXPECT_EQ(task->step(2).state(), JobState::cancelled);
  EXPECT_EQ(task->step(3).state(), JobState::pending);
}

TEST_F(Engine, TimeoutSetAfterStartEndsTimedOut) {
  auto task = make_job(json::parse(R"({"sleep": 100})"));
  runner.start(task);
  ua::create_task(time_out_at(&runner, 1500));
  run_until_done();
  EXPECT_EQ(elapsed_ms(), 1500);
  EXPECT_EQ(task->state(), JobState::timed_out);
  EXPECT_EQ(task->error()->type, "TimeoutError");
}

// Started and cancelled in the same loop turn (a delayed task falls due as its timeout expires):
// a task cancelled before its first turn never runs its body (§ cancel of a fresh task), and the
// job must still end, cancelled or timed out, never stay running.
TEST_F(Engine, ACancelBeforeTheFirstTurnStillEndsTheJob) {
  auto task = make_job(json::parse(R"({"sleep": 100})"));
  runner.start(task);
  EXPECT_TRUE(runner.cancel(1));
  run_until_done();
  EXPECT_EQ(elapsed_ms(), 0);
  EXPECT_EQ(task->state(), JobState::cancelled);
  EXPECT_EQ(task->step(0).state(), JobState::pending);  // never started, as after any cancel
  EXPECT_EQ(runner.size(), 0u);
}

TEST_F(Engine, ATimeoutBeforeTheFirstTurnEndsTimedOut) {
  auto task = make_job(json::parse(R"({"sequence": [{"sleep": 100}]})"));
  runner.start(task);
  EXPECT_TRUE(runner.time_out(1));
  run_until_done();
  EXPECT_EQ(task->state(), JobState::timed_out);
  EXPECT_EQ(task->error()->type, "TimeoutError");
  EXPECT_EQ(task->step(1).state(), JobState::pending);
}
