// The engine on a virtual-clock loop: spec trees run with uasyncio's semantics, and each step's
// state is recorded under its id.
#include <gtest/gtest.h>

#include <memory>

#include "loop_fixture.hpp"
#include "uasyncd/api/engine.hpp"

namespace api = uasyncd::api;
namespace ua = uasyncio;
using nlohmann::json;

namespace {

std::shared_ptr<api::TaskRecord> make_task(const json& doc) {
  api::ParsedSpec p = api::parse_spec(doc);
  EXPECT_TRUE(p) << p.error.message;
  return std::make_shared<api::TaskRecord>(1, std::move(*p.spec), doc);
}

ua::Coro<void> cancel_at(std::shared_ptr<api::TaskRecord> task, std::size_t step, int ms) {
  co_await ua::sleep_ms(ms);
  api::cancel_step(*task, step);
}

ua::Coro<void> wait_done(std::shared_ptr<api::TaskRecord> task) {
  ua::Task<void> root = task->task;
  co_await root;
}

}  // namespace

using Engine = LoopTest;

TEST_F(Engine, SeedGatherExampleCancelsBarAtFiveSeconds) {
  auto task = make_task(json::parse(R"({"gather": [
      {"name": "bar", "sleep": 1e6},
      {"name": "barking", "sequence": [{"sleep": 6}, {"value": 42}]},
      {"wait_for": {"name": "foo", "sleep": 1e6}, "timeout": 7}],
    "return_exceptions": true})"));
  api::start_task(task);
  ua::create_task(cancel_at(task, 1, 5000));
  ua::run(wait_done(task));
  EXPECT_EQ(elapsed_ms(), 7000);
  EXPECT_EQ(task->state, api::State::done);
  ASSERT_EQ(task->result.size(), 3u);
  EXPECT_EQ(task->result[0]["error"]["type"], "CancelledError");
  EXPECT_EQ(task->result[1], 42);
  EXPECT_EQ(task->result[2]["error"]["type"], "TimeoutError");
  EXPECT_EQ(task->steps[1].state, api::State::cancelled);
  EXPECT_EQ(task->steps[2].state, api::State::done);
  EXPECT_EQ(task->steps[5].state, api::State::timed_out);
  EXPECT_EQ(task->steps[6].state, api::State::cancelled);  // foo, cancelled by the timeout
}

TEST_F(Engine, GatherWithoutReturnExceptionsRaisesTheFirstFailure) {
  auto task = make_task(json::parse(
      R"({"gather": [{"sequence": [{"sleep": 2}, {"fail": "late"}]},
                     {"sequence": [{"sleep": 1}, {"fail": "early"}]}]})"));
  api::start_task(task);
  ua::run(wait_done(task));
  EXPECT_EQ(elapsed_ms(), 1000);
  EXPECT_EQ(task->state, api::State::failed);
  EXPECT_EQ(task->error->message, "early");
  EXPECT_EQ(task->error->type, "Exception");
}

TEST_F(Engine, RootTimeoutEndsTimedOut) {
  auto task = make_task(json::parse(R"({"sleep": 10, "timeout": 2.5})"));
  api::start_task(task);
  ua::run(wait_done(task));
  EXPECT_EQ(elapsed_ms(), 2500);
  EXPECT_EQ(task->state, api::State::timed_out);
  EXPECT_EQ(task->steps[0].state, api::State::cancelled);
}

TEST_F(Engine, WaitForMsReturnsTheValueWhenInTime) {
  auto task = make_task(json::parse(
      R"({"wait_for_ms": {"sequence": [{"sleep_ms": 300}, {"value": {"k": [1, 2]}}]}, "timeout": 500})"));
  api::start_task(task);
  ua::run(wait_done(task));
  EXPECT_EQ(elapsed_ms(), 300);
  EXPECT_EQ(task->state, api::State::done);
  EXPECT_EQ(task->result, json::parse(R"({"k": [1, 2]})"));
}

TEST_F(Engine, SequenceReturnsTheLastResult) {
  auto task =
      make_task(json::parse(R"({"sequence": [{"value": 1}, {"sleep_ms": 5}, {"value": "x"}]})"));
  api::start_task(task);
  ua::run(wait_done(task));
  EXPECT_EQ(task->result, "x");
  EXPECT_EQ(task->steps[2].state, api::State::done);
}

TEST_F(Engine, CancellingTheTaskCancelsTheStepItWaitsIn) {
  auto task =
      make_task(json::parse(R"({"sequence": [{"sleep": 1}, {"sleep": 100}, {"value": 3}]})"));
  api::start_task(task);
  ua::create_task(cancel_at(task, 0, 5000));
  ua::run(wait_done(task));
  EXPECT_EQ(elapsed_ms(), 5000);
  EXPECT_EQ(task->state, api::State::cancelled);
  EXPECT_EQ(task->steps[1].state, api::State::done);
  EXPECT_EQ(task->steps[2].state, api::State::cancelled);
  EXPECT_EQ(task->steps[3].state, api::State::pending);
}

TEST_F(Engine, TimeoutSetAfterStartEndsTimedOut) {
  auto task = make_task(json::parse(R"({"sleep": 100})"));
  api::start_task(task);
  api::set_task_timeout(task, 1500, [](api::TaskRecord&) {});
  ua::run(wait_done(task));
  EXPECT_EQ(elapsed_ms(), 1500);
  EXPECT_EQ(task->state, api::State::timed_out);
  EXPECT_EQ(task->error->type, "TimeoutError");
}
