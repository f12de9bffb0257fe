// Delayed tasks over HTTP with the real daemon: the scheduled state and run_at in every answer,
// list filter, stats and metrics; cancel, timeout, delete and wait of a scheduled task; invalid
// "delay" and "at" refused with 400 naming the field.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "daemon_fixture.hpp"

namespace srv = uasyncd::server;
using nlohmann::json;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class DelayedHttp : public DaemonTest {
 protected:
  void SetUp() override {
    srv::DaemonOptions o;
    o.shutdown_grace = 2;
    start(o);
  }
  json submitted(const std::string& spec) {
    Result r = post("/api/tasks", spec);
    EXPECT_EQ(r.status, 201) << r.body.dump();
    return r.body;
  }
};

}  // namespace

TEST_F(DelayedHttp, AScheduledTaskShowsEverywhereStatesAre) {
  const double before = now_s();
  const json t = submitted(R"({"value": 1, "delay": 3600, "name": "later"})");
  EXPECT_EQ(t["state"], "scheduled");
  ASSERT_TRUE(t["run_at"].is_number()) << t.dump();
  EXPECT_GE(t["run_at"].get<double>(), before + 3600 - 0.01);
  EXPECT_LE(t["run_at"].get<double>(), now_s() + 3600 + 0.01);
  const std::string id = t.value("id", "");
  Result got = get("/api/tasks/" + id);
  EXPECT_EQ(got.body["state"], "scheduled");
  EXPECT_EQ(got.body["run_at"], t["run_at"]);
  EXPECT_EQ(got.body["spec"]["delay"], 3600);
  Result list = get("/api/tasks?state=scheduled");
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.body["tasks"].size(), 1u) << list.body.dump();
  EXPECT_EQ(list.body["tasks"][0]["id"], id);
  EXPECT_EQ(list.body["tasks"][0]["run_at"], t["run_at"]);
  EXPECT_EQ(get("/api/tasks?state=pending").body["tasks"].size(), 0u);
  EXPECT_EQ(get("/api/stats").body["tasks"]["scheduled"], 1);
  const std::string metrics = get("/metrics").body.get<std::string>();
  EXPECT_NE(metrics.find("uasyncd_tasks{state=\"scheduled\"} 1"), std::string::npos) << metrics;
  Result waited = wait(id, 0.1);
  EXPECT_EQ(waited.status, 202);
  EXPECT_EQ(waited.body["state"], "scheduled");
  // Not delayed: run_at is null.
  EXPECT_TRUE(submitted(R"({"value": 2})")["run_at"].is_null());
}

TEST_F(DelayedHttp, AShortDelayRunsOnTheRealClock) {
  const json t = submitted(R"({"value": 5, "delay": 0.05})");
  Result r = wait(t.value("id", ""));
  EXPECT_EQ(r.body["state"], "done");
  EXPECT_EQ(r.body["result"], 5);
  EXPECT_GE(r.body["started"].get<double>(), t["run_at"].get<double>() - 0.002);
  const json past = submitted(R"({"value": 6, "at": "2001-09-09T01:46:40Z"})");
  EXPECT_EQ(past["run_at"], 1000000000);
  EXPECT_EQ(wait(past.value("id", "")).body["state"], "done");
}

TEST_F(DelayedHttp, CancelTimeoutAndDeleteOfAScheduledTask) {
  const std::string a = submitted(R"({"value": 1, "delay": 3600})").value("id", "");
  Result cancelled = post("/api/tasks/" + a + "/cancel", "");
  EXPECT_EQ(cancelled.status, 202);
  EXPECT_EQ(cancelled.body["state"], "cancelled");
  EXPECT_EQ(wait(a).body["error"]["message"], "cancelled while scheduled");

  const std::string b = submitted(R"({"value": 1, "delay": 3600})").value("id", "");
  EXPECT_EQ(post("/api/tasks/" + b + "/timeout", R"({"timeout": 0.1})").status, 202);
  Result timed_out = wait(b);
  EXPECT_EQ(timed_out.body["state"], "timed_out");
  EXPECT_EQ(timed_out.body["attempts"], 0);

  const std::string c = submitted(R"({"value": 1, "delay": 3600})").value("id", "");
  EXPECT_EQ(del("/api/tasks/" + c).status, 200);
  EXPECT_EQ(get("/api/tasks/" + c).status, 404);
  EXPECT_EQ(get("/api/stats").body["tasks"]["scheduled"], 0);
}

TEST_F(DelayedHttp, InvalidDelayAndAtAre400NamingTheField) {
  const auto refused = [&](const std::string& spec, const std::string& field) {
    Result r = post("/api/tasks", spec);
    EXPECT_EQ(r.status, 400) << spec;
    EXPECT_EQ(r.body["error"]["code"], "invalid_spec") << spec;
    const std::string message = r.body["error"]["message"].get<std::string>();
    EXPECT_EQ(message.rfind(field + ": ", 0), 0u) << message;
  };
  refused(R"({"value": 1, "delay": -1})", "$.delay");
  refused(R"({"value": 1, "delay": "soon"})", "$.delay");
  refused(R"({"value": 1, "delay": 1e12})", "$.delay");
  refused(R"({"value": 1, "at": "2030-01-01 00:00"})", "$.at");
  refused(R"({"value": 1, "at": "2030-01-01T00:00:00Z", "delay": 1})", "$.at");
  refused(R"({"sequence": [{"value": 1, "delay": 1}]})", "$.sequence[0].delay");
  EXPECT_EQ(get("/api/stats").body["submitted_total"], 0);
}
