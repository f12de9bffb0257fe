// Periodic schedules and named queues over HTTP with the real daemon: the routes, their answers
// and refusals (400 naming the field, 404, 405, 409), runs that are ordinary tasks naming their
// schedule, a client's submit that may not claim a schedule; and, with the binary killed (-9)
// again and again on a durable store, a schedule's count of runs that always matches the tasks
// stored (each run and its fire are written in one transaction).
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <thread>

#include "daemon_fixture.hpp"
#include "daemon_process.hpp"
#include "temp_dir.hpp"

namespace srv = uasyncd::server;
using nlohmann::json;

namespace {

class SchedulesHttp : public DaemonTest {
 protected:
  void SetUp() override {
    srv::DaemonOptions o;
    o.shutdown_grace = 2;
    o.queue_limits = {{"builds", 1}};
    start(o);
  }
  Result put(const std::string& path, const std::string& body) {
    return result(client_->Put(path.c_str(), body, "application/json"));
  }
};

}  // namespace

TEST_F(SchedulesHttp, AScheduleIsMadeListedRunPausedTriggeredAndDeleted) {
  Result made = post("/api/schedules",
                     R"({"name": "tick", "every": 0.2, "spec": {"value": 7}, "overlap": "allow"})");
  ASSERT_EQ(made.status, 201) << made.body.dump();
  EXPECT_EQ(made.body["name"], "tick");
  EXPECT_EQ(made.body["every"], 0.2);
  EXPECT_EQ(made.body["next_fires"].size(), 5u);
  EXPECT_EQ(made.body["last_run"], nullptr);
  EXPECT_EQ(post("/api/schedules", R"({"name": "tick", "every": 1, "spec": {"value": 1}})").status,
            409);
  Result ran = poll("/api/schedules/tick", [](const json& s) { return s["runs"] >= 2; });
  ASSERT_GE(ran.body["runs"].get<int>(), 2) << ran.body.dump();
  const std::string run_id = ran.body["last_run"]["id"].get<std::string>();
  Result run = wait(run_id);
  EXPECT_EQ(run.body["schedule"], "tick");
  EXPECT_EQ(run.body["spec"], (json{{"value", 7}, {"schedule", "tick"}}));
  EXPECT_EQ(run.body["result"], 7);
  Result listed = get("/api/schedules");
  ASSERT_EQ(listed.status, 200);
  ASSERT_EQ(listed.body["schedules"].size(), 1u);
  EXPECT_EQ(listed.body["schedules"][0]["name"], "tick");

  Result paused = post("/api/schedules/tick/pause", "");
  ASSERT_EQ(paused.status, 200) << paused.body.dump();
  EXPECT_EQ(paused.body["paused"], true);
  EXPECT_TRUE(paused.body["next_fires"].empty());
  const int runs_when_paused = get("/api/schedules/tick").body["runs"].get<int>();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(get("/api/schedules/tick").body["runs"], runs_when_paused);
  Result triggered = post("/api/schedules/tick/trigger", "");
  ASSERT_EQ(triggered.status, 201) << triggered.body.dump();
  EXPECT_EQ(triggered.body["schedule"], "tick");
  EXPECT_EQ(wait(triggered.body["id"].get<std::string>()).body["state"], "done");
  EXPECT_EQ(get("/api/schedules/tick").body["last_run"],
            (json{{"id", triggered.body["id"]}, {"state", "done"}}));
  Result resumed = post("/api/schedules/tick/resume", "");
  EXPECT_EQ(resumed.body["paused"], false);
  EXPECT_EQ(resumed.body["next_fires"].size(), 5u);

  Result gone = del("/api/schedules/tick");
  EXPECT_EQ(gone.status, 200);
  EXPECT_EQ(get("/api/schedules/tick").status, 404);
  EXPECT_EQ(del("/api/schedules/tick").status, 404);
  EXPECT_EQ(get("/api/tasks/" + run_id).status, 200);  // its runs stay
}

TEST_F(SchedulesHttp, BadDefinitionsAndNamesAreRefusedSayingWhy) {
  Result bad =
      post("/api/schedules", R"({"name": "n", "cron": "0 25 * * *", "spec": {"value": 1}})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"]["message"], "$.cron: hour field: 25 is out of range 0-23");
  bad = post("/api/schedules", R"({"name": "n", "every": 1, "spec": {"value": 1, "at": "x"}})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"]["message"],
            "$.spec.at: a schedule's run is made when it fires; it takes no at");
  EXPECT_EQ(post("/api/schedules", "[1]").status, 400);
  EXPECT_EQ(post("/api/schedules", "{").status, 400);
  EXPECT_EQ(post("/api/schedules", R"({"name": "n"})", "text/plain").status, 415);
  EXPECT_EQ(get("/api/schedules/no-such").status, 404);
  EXPECT_EQ(get("/api/schedules/a%20b").status, 404);
  EXPECT_EQ(post("/api/schedules/no-such/trigger", "").status, 404);
  EXPECT_EQ(get("/api/schedules/x/pause").status, 405);
  EXPECT_EQ(
      post("/api/schedules", R"({"name": "x", "every": 1, "spec": {"exec": ["true"]}})").status,
      403);  // no --allow-exec
}

TEST_F(SchedulesHttp, ASubmitCannotClaimToBeAScheduleRun) {
  Result one = post("/api/tasks", R"({"value": 1, "schedule": "nightly"})");
  EXPECT_EQ(one.status, 400);
  EXPECT_EQ(one.body["error"]["message"].get<std::string>().rfind("$.schedule: ", 0), 0u);
  Result batch = post("/api/tasks", R"([{"value": 1}, {"value": 1, "schedule": "nightly"}])");
  EXPECT_EQ(batch.status, 400);
  EXPECT_EQ(batch.body["error"]["message"].get<std::string>().rfind("$[1].schedule: ", 0), 0u)
      << batch.body.dump();
  EXPECT_EQ(get("/api/tasks").body["tasks"].size(), 0u);
}

TEST_F(SchedulesHttp, QueuesAreListedSetAndLimitTheirTasks) {
  const std::string a = submit(R"({"sleep": 30, "queue": "builds"})");
  const std::string b = submit(R"({"sleep": 30, "queue": "builds"})");
  Result second = get("/api/tasks/" + b);
  EXPECT_EQ(second.body["state"], "pending");
  EXPECT_EQ(second.body["queue"], "builds");
  Result list = get("/api/queues");
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.body["queues"].size(), 2u) << list.body.dump();
  const json builds = list.body["queues"][0];
  EXPECT_EQ(builds["name"], "builds");
  EXPECT_EQ(builds["max_running"], 1);
  EXPECT_EQ(builds["running"], 1);
  EXPECT_EQ(builds["pending"], 1);
  EXPECT_EQ(list.body["queues"][1]["name"], "default");
  Result raised = put("/api/queues/builds", R"({"max_running": 2})");
  ASSERT_EQ(raised.status, 200) << raised.body.dump();
  EXPECT_EQ(raised.body["max_running"], 2);
  EXPECT_EQ(raised.body["running"], 2);
  EXPECT_EQ(get("/api/tasks/" + b).body["state"], "running");
  Result paused = put("/api/queues/emails", R"({"paused": true})");
  EXPECT_EQ(paused.body["paused"], true);
  const std::string c = submit(R"({"value": 1, "queue": "emails"})");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(get("/api/tasks/" + c).body["state"], "pending");
  put("/api/queues/emails", R"({"paused": false})");
  EXPECT_EQ(wait(c).body["state"], "done");
  EXPECT_EQ(get("/api/queues/emails").body["pending"], 0);
  EXPECT_EQ(get("/api/queues/nowhere").status, 404);
  EXPECT_EQ(put("/api/queues/builds", R"({"max_running": -1})").status, 400);
  EXPECT_EQ(put("/api/queues/builds", R"({"max_running": 1.5})").status, 400);
  EXPECT_EQ(put("/api/queues/builds", R"({"paused": "yes"})").status, 400);
  EXPECT_EQ(put("/api/queues/builds", R"({"limit": 1})").status, 400);
  EXPECT_EQ(put("/api/queues/builds", "{}").status, 400);
  EXPECT_EQ(put("/api/queues/a%20b", R"({"paused": true})").status, 404);
  Result bad = post("/api/tasks", R"({"value": 1, "queue": "a b"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"]["message"], "$.queue: 1 to 128 characters of A-Z a-z 0-9 . _ -");
  post("/api/tasks/" + a + "/cancel", "");
  post("/api/tasks/" + b + "/cancel", "");
}

TEST(SchedulesKill9, ARunAndItsFireAreStoredTogetherOrNotAtAll) {
  TempDir dir;
  const std::vector<std::string> args{"--listen", "127.0.0.1:0", "--data-dir",
                                      dir.path(), "--log-level", "warn"};
  std::mt19937 random(20261202);
  std::uniform_int_distribution<int> lifetime_ms(150, 450);
  bool made = false;
  for (int round = 0; round < 6; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    DaemonProcess daemon(args, dir / ("run" + std::to_string(round) + ".log"));
    const std::optional<int> port = daemon.await_port();
    ASSERT_TRUE(port) << daemon.output();
    httplib::Client c("127.0.0.1", *port);
    c.set_read_timeout(30);
    if (!made) {
      auto r = c.Post("/api/schedules",
                      R"({"name": "often", "every": 0.01, "overlap": "allow", "catch_up": "one",
                          "spec": {"value": 1}})",
                      "application/json");
      ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
      made = true;
    } else {
      // What the last run stored: as many tasks as the schedule counts runs. Paused first, so
      // the two answers count the same runs (the pause is stored after every run before it, its
      // catch-up run at start included).
      auto s = c.Post("/api/schedules/often/pause", "", "application/json");
      auto t = c.Get("/api/tasks?limit=1000");
      ASSERT_TRUE(s && s->status == 200 && t && t->status == 200);
      const json schedule = json::parse(s->body);
      const json tasks = json::parse(t->body);
      EXPECT_EQ(schedule["runs"], tasks["total"]) << schedule.dump();
      auto resumed = c.Post("/api/schedules/often/resume", "", "application/json");
      ASSERT_TRUE(resumed && resumed->status == 200);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(lifetime_ms(random)));
    daemon.signal(SIGKILL);
    ASSERT_TRUE(daemon.await_exit(std::chrono::seconds(10)));
  }
}
