// A task is reported finished only once every one of its steps has reached its final state: no
// reply and no event shows a finished task with a step still running, and its "finished" event
// comes after every step event. And the exec kill grace holds for every attempt of a task.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "daemon_fixture.hpp"

namespace srv = uasyncd::server;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Every step of a record, the root included, in preorder.
void collect_steps(const json& step, std::vector<json>& out) {
  out.push_back(step);
  if (step.contains("steps")) {
    for (const json& child : step["steps"])
      collect_steps(child, out);
  }
}

// No step of a finished record is still running.
void expect_settled(const json& task) {
  std::vector<json> steps;
  collect_steps(task["steps"], steps);
  for (const json& s : steps) {
    EXPECT_NE(s["state"], "running") << s["id"] << " in " << task.dump();
  }
}

// The events of one task, flattened from the batches of /api/events.
std::vector<json> events_of(const std::string& text, const std::string& id) {
  std::vector<json> out;
  for (const SseEvent& e : parse_sse(text)) {
    if (e.event != "message") continue;  // the stream's greeting ("hello") is not a batch
    for (const json& item : e.data) {
      if (item["id"] == id) out.push_back(item);
    }
  }
  return out;
}

void expect_finished_last(const std::vector<json>& events) {
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back()["type"], "finished");
  for (std::size_t i = 0; i + 1 < events.size(); ++i)
    EXPECT_NE(events[i]["type"], "finished") << "event " << i << " of " << events.size();
}

class FinalState : public DaemonTest {
 protected:
  void start_with(bool virtual_clock) {
    srv::DaemonOptions o;
    o.allow_exec = true;
    o.exec_kill_grace = 0.3;
    o.shutdown_grace = 3;
    o.virtual_clock = virtual_clock;
    start(o);
  }
};

// A gather without return_exceptions raises at its first failure and leaves its other children
// running (§10.7); they are cancelled before the task is reported failed, not after.
TEST_F(FinalState, AFailedGathersOtherChildrenEndBeforeTheTask) {
  start_with(true);
  SseReader reader(daemon_->port(), "/api/events", [](const std::string& text) {
    return text.find(R"("type":"finished")") != std::string::npos;
  });
  ASSERT_TRUE(reader.wait_for_text(": connected"));
  const std::string id = submit(R"({"gather": [{"sequence": [{"sleep_ms": 10}, {"fail": "broke"}]},
                                                 {"sleep": 3600},
                                                 {"sequence": [{"sleep": 7200}]}]})");
  const Result r = wait(id);
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["state"], "failed");
  expect_settled(r.body);
  EXPECT_EQ(r.body["steps"]["steps"][1]["state"], "cancelled");
  EXPECT_EQ(r.body["steps"]["steps"][2]["steps"][0]["state"], "cancelled");
  reader.join();
  expect_finished_last(events_of(reader.text(), id));
}

// An exec step that ignores SIGTERM is killed after the grace; the task ends after it.
TEST_F(FinalState, TheTaskEndsAfterItsExecStepWasKilled) {
  start_with(false);
  SseReader reader(daemon_->port(), "/api/events", [](const std::string& text) {
    return text.find(R"("type":"finished")") != std::string::npos;
  });
  ASSERT_TRUE(reader.wait_for_text(": connected"));
  const std::string id = submit(R"({"gather": [
      {"sequence": [{"sleep_ms": 200}, {"fail": "broke"}]},
      {"exec": ["sh", "-c", "trap '' TERM; sleep 30"]}]})");
  const auto t0 = std::chrono::steady_clock::now();
  const Result r = wait(id);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["state"], "failed");
  expect_settled(r.body);
  EXPECT_EQ(r.body["steps"]["steps"][1]["state"], "cancelled");
  EXPECT_GE(took, 450ms);  // 0.2 s before the failure, then the 0.3 s grace
  reader.join();
  expect_finished_last(events_of(reader.text(), id));
}

// Cancelling a task with a timeout: the wait_for around it leaves at once (§9.7), its inner step
// still unwinds; the task is cancelled only once that step has.
TEST_F(FinalState, ACancelledTaskWithATimeoutEndsAfterItsSteps) {
  start_with(false);
  const std::string id =
      submit(R"({"timeout": 600, "sequence": [{"exec": ["sh", "-c", "trap '' TERM; sleep 30"]}]})");
  poll("/api/tasks/" + id,
       [](const json& t) { return t["steps"]["steps"][0]["state"] == "running"; });
  EXPECT_EQ(post("/api/tasks/" + id + "/cancel", "").status, 202);
  const Result r = wait(id);
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["state"], "cancelled");
  expect_settled(r.body);
}

// --exec-kill-grace holds for a retried attempt too, not only the first (the default is 5 s).
TEST_F(FinalState, TheKillGraceHoldsForARetriedAttempt) {
  start_with(false);
  const std::string id =
      submit(R"({"timeout": 0.3, "retries": 1, "exec": ["sh", "-c", "trap '' TERM; sleep 30"]})");
  const auto t0 = std::chrono::steady_clock::now();
  const Result r = wait(id, 30);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["state"], "timed_out");
  EXPECT_EQ(r.body["attempts"], 2);
  // Two attempts of 0.3 s timeout + 0.3 s grace each; with the default grace for the second,
  // at least 5.6 s.
  EXPECT_LT(took, 4s);
}

}  // namespace
