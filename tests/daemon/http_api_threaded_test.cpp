// Integration: the real daemon on an ephemeral loopback port, driven over HTTP.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "daemon_fixture.hpp"
#include "uasyncd/daemon/daemon.hpp"

namespace srv = uasyncd::server;
using nlohmann::json;

namespace {

// The daemon with a short shutdown grace, and a client that sends the token when one is set.
class Http : public DaemonTest {
 protected:
  void start(srv::DaemonOptions options = {}) {
    options.shutdown_grace = 2;
    DaemonTest::start(options);
    if (!options.token.empty()) client_->set_bearer_token_auth(options.token.c_str());
  }
};

srv::DaemonOptions with(void (*set)(srv::DaemonOptions&)) {
  srv::DaemonOptions o;
  set(o);
  return o;
}

const json& step(const json& task, std::size_t index) {
  return task["steps"]["steps"][index];
}

}  // namespace

// The seed's gather example, scaled from seconds to tenths of seconds on the real clock: bar is
// cancelled through its step id while barking still sleeps, foo's wait_for times out.
TEST_F(Http, SeedGatherExampleCancelBarThroughItsStepId) {
  start();
  const std::string id = submit(R"({"gather": [
      {"name": "bar", "sleep": 1000},
      {"name": "barking", "sequence": [{"sleep": 0.6}, {"value": 42}]},
      {"wait_for": {"name": "foo", "sleep": 1000}, "timeout": 0.7}],
    "return_exceptions": true})");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Result cancelled = post("/api/tasks/" + id + ".1/cancel", "");
  EXPECT_EQ(cancelled.status, 202) << cancelled.body.dump();
  Result done = wait(id);
  ASSERT_EQ(done.status, 200) << done.body.dump();
  EXPECT_EQ(done.body["state"], "done");
  EXPECT_EQ(done.body["result"][0]["error"]["type"], "CancelledError");
  EXPECT_EQ(done.body["result"][1], 42);
  EXPECT_EQ(done.body["result"][2]["error"]["type"], "TimeoutError");
  EXPECT_EQ(step(done.body, 0)["state"], "cancelled");
  EXPECT_EQ(step(done.body, 0)["name"], "bar");
  EXPECT_EQ(step(done.body, 1)["state"], "done");
  EXPECT_EQ(step(done.body, 2)["state"], "timed_out");
  EXPECT_GE(done.body["duration"].get<double>(), 0.6);
}

TEST_F(Http, SubmitGetListDelete) {
  start(with([](srv::DaemonOptions& o) { o.virtual_clock = true; }));
  const std::string a = submit(R"({"value": {"x": "ünïcødé"}, "name": "first"})");
  const std::string b = submit(R"({"sleep": 3600, "name": "second"})");
  EXPECT_EQ(wait(b).body["state"], "done");  // an hour of virtual time
  Result got = get("/api/tasks/" + a);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body["result"]["x"], "ünïcødé");
  EXPECT_EQ(got.body["spec"]["name"], "first");
  Result list = get("/api/tasks?limit=1");
  ASSERT_EQ(list.body["tasks"].size(), 1u);
  EXPECT_EQ(list.body["tasks"][0]["id"], b);  // newest first
  Result next = get("/api/tasks?limit=1&cursor=" + list.body["next_cursor"].get<std::string>());
  ASSERT_EQ(next.body["tasks"].size(), 1u);
  EXPECT_EQ(next.body["tasks"][0]["id"], a);
  EXPECT_TRUE(next.body["next_cursor"].is_null());
  EXPECT_EQ(get("/api/tasks?name=second").body["tasks"].size(), 1u);
  EXPECT_EQ(get("/api/tasks?state=running").body["tasks"].size(), 0u);
  EXPECT_EQ(del("/api/tasks/" + a).status, 200);
  EXPECT_EQ(get("/api/tasks/" + a).status, 404);
  EXPECT_EQ(del("/api/tasks/" + a).status, 404);
}

TEST_F(Http, CancelAndDeleteRules) {
  start();
  const std::string id = submit(R"({"sleep": 100})");
  EXPECT_EQ(del("/api/tasks/" + id).status, 409);
  EXPECT_EQ(post("/api/tasks/" + id + "/cancel", "").status, 202);
  EXPECT_EQ(wait(id).body["state"], "cancelled");
  EXPECT_EQ(post("/api/tasks/" + id + "/cancel", "").status, 409);
  EXPECT_EQ(post("/api/tasks/t999/cancel", "").status, 404);
  EXPECT_EQ(get("/api/tasks/nonsense").status, 404);
  EXPECT_EQ(get("/api/tasks/" + id + ".99").status, 404);
}

TEST_F(Http, TimeoutSetAfterSubmit) {
  start();
  const std::string id = submit(R"({"sleep": 100})");
  EXPECT_EQ(post("/api/tasks/" + id + "/timeout", R"({"timeout": 0.2})").status, 202);
  Result r = wait(id);
  EXPECT_EQ(r.body["state"], "timed_out");
  EXPECT_EQ(r.body["error"]["type"], "TimeoutError");
  EXPECT_EQ(post("/api/tasks/" + id + "/timeout", R"({"timeout": 1})").status, 409);
  EXPECT_EQ(post("/api/tasks/" + id + "/timeout", R"({"timeout": -1})").status, 400);
  EXPECT_EQ(post("/api/tasks/" + id + "/timeout", R"({"later": 1})").status, 400);
}

TEST_F(Http, WaitReturns202WhileRunning) {
  start();
  const std::string id = submit(R"({"sleep": 100})");
  Result r = wait(id, 0.1);
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body["state"], "running");
}

TEST_F(Http, BadInputsGetJsonErrors) {
  start();
  Result r = post(
      "/api/tasks",
      R"({"gather": [{"value": 1}, {"value": 2}, {"wait_for": {"value": 1}, "timeout": -1}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body["error"]["code"], "invalid_spec");
  EXPECT_NE(r.body["error"]["message"].get<std::string>().find("$.gather[2].timeout"),
            std::string::npos);
  EXPECT_EQ(post("/api/tasks", "{nope").body["error"]["code"], "invalid_json");
  EXPECT_EQ(post("/api/tasks", R"({"sleep": 1e999})").status, 400);
  EXPECT_EQ(post("/api/tasks", R"({"value": 1})", "text/plain").status, 415);
  Result big = post("/api/tasks", R"({"value": ")" + std::string(2 << 20, 'x') + R"("})");
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(big.body["error"]["code"], "payload_too_large");
  EXPECT_EQ(post("/api/tasks", R"({"exec": ["true"]})").status, 403);
  Result unknown = get("/no/such/route");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body["error"]["code"], "not_found");
  EXPECT_EQ(result(client_->Put("/api/tasks", "{}", "application/json")).status, 405);
  EXPECT_EQ(get("/api/tasks?limit=0").status, 400);
  EXPECT_EQ(get("/api/tasks?state=sleepy").status, 400);
  EXPECT_EQ(get("/healthz").status, 200);  // still alive after all that
}

TEST_F(Http, TokenIsRequiredOnApiWhenSet) {
  start(with([](srv::DaemonOptions& o) { o.token = "s3cret"; }));
  EXPECT_EQ(get("/api/stats").status, 200);
  httplib::Client anonymous("127.0.0.1", daemon_->port());
  EXPECT_EQ(result(anonymous.Get("/api/stats")).status, 401);
  anonymous.set_bearer_token_auth("s3cres");
  EXPECT_EQ(result(anonymous.Get("/api/stats")).status, 401);
  EXPECT_EQ(result(anonymous.Get("/healthz")).status, 200);
}

// RFC 7235: the scheme name is case-insensitive; the token itself is not.
TEST_F(Http, TheBearerSchemeIsCaseInsensitive) {
  start(with([](srv::DaemonOptions& o) { o.token = "s3cret"; }));
  httplib::Client c("127.0.0.1", daemon_->port());
  for (const char* scheme : {"bearer", "BEARER", "BeArEr"}) {
    const httplib::Headers h{{"Authorization", std::string(scheme) + " s3cret"}};
    EXPECT_EQ(result(c.Get("/api/stats", h)).status, 200) << scheme;
  }
  EXPECT_EQ(result(c.Get("/api/stats", {{"Authorization", "Bearer S3CRET"}})).status, 401);
  EXPECT_EQ(result(c.Get("/api/stats", {{"Authorization", "Basic s3cret"}})).status, 401);
  EXPECT_EQ(result(c.Get("/api/stats", {{"Authorization", "Bearers3cret"}})).status, 401);
}

// Metrics name tasks' states and counts: behind the token unless --metrics-public; liveness
// and the page shell stay open (the page asks for the token itself).
TEST_F(Http, MetricsNeedTheTokenUnlessPublic) {
  start(with([](srv::DaemonOptions& o) { o.token = "s3cret"; }));
  httplib::Client anonymous("127.0.0.1", daemon_->port());
  const httplib::Result m = anonymous.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 401);
  EXPECT_EQ(m->body.find("uasyncd_tasks"), std::string::npos);
  EXPECT_EQ(result(client_->Get("/metrics")).status, 200);
  EXPECT_EQ(result(anonymous.Get("/healthz")).status, 200);
  EXPECT_EQ(result(anonymous.Get("/")).status, 200);
}

TEST_F(Http, MetricsPublicOpensOnlyMetrics) {
  start(with([](srv::DaemonOptions& o) {
    o.token = "s3cret";
    o.metrics_public = true;
  }));
  httplib::Client anonymous("127.0.0.1", daemon_->port());
  EXPECT_EQ(result(anonymous.Get("/metrics")).status, 200);
  EXPECT_EQ(result(anonymous.Get("/api/stats")).status, 401);
}

TEST_F(Http, MaxRunningKeepsTheRestPendingInOrder) {
  start(with([](srv::DaemonOptions& o) { o.max_running = 1; }));
  const std::string first = submit(R"({"sleep": 0.3})");
  const std::string second = submit(R"({"value": 2})");
  const std::string third = submit(R"({"value": 3})");
  EXPECT_EQ(get("/api/tasks/" + second).body["state"], "pending");
  EXPECT_EQ(post("/api/tasks/" + third + "/cancel", "").status, 202);
  Result r2 = wait(second);
  EXPECT_EQ(r2.body["state"], "done");
  EXPECT_GE(r2.body["started"].get<double>(),
            get("/api/tasks/" + first).body["finished"].get<double>());
  EXPECT_EQ(get("/api/tasks/" + third).body["state"], "cancelled");
}

TEST_F(Http, KeepFinishedEvictsTheOldest) {
  start(with([](srv::DaemonOptions& o) {
    o.keep_finished = 2;
    o.virtual_clock = true;
  }));
  const std::string a = submit(R"({"value": 1})");
  const std::string b = submit(R"({"value": 2})");
  const std::string c = submit(R"({"value": 3})");
  wait(c);
  wait(b);
  EXPECT_EQ(get("/api/tasks/" + a).status, 404);
  EXPECT_EQ(get("/api/tasks/" + c).status, 200);
}

TEST_F(Http, StatsAndMetrics) {
  start(with([](srv::DaemonOptions& o) { o.virtual_clock = true; }));
  wait(submit(R"({"fail": "boom"})"));
  Result stats = get("/api/stats");
  EXPECT_EQ(stats.body["tasks"]["failed"], 1);
  EXPECT_EQ(stats.body["submitted_total"], 1);
  EXPECT_EQ(stats.body["version"], "0.1.0");
  Result metrics = get("/metrics");
  const std::string text = metrics.body.get<std::string>();
  EXPECT_NE(text.find("uasyncd_tasks{state=\"failed\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("uasyncd_tasks_submitted_total 1"), std::string::npos);
  EXPECT_NE(text.find("uasyncd_http_requests_total{status=\"201\"} 1"), std::string::npos);
}

TEST_F(Http, ManyClientsAtOnce) {
  start(with([](srv::DaemonOptions& o) { o.virtual_clock = true; }));
  std::vector<std::thread> clients;
  std::atomic<int> created{0};
  for (int i = 0; i < 200; ++i) {
    clients.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", daemon_->port());
      auto r = c.Post("/api/tasks", R"({"value": )" + std::to_string(i) + "}", "application/json");
      if (r && r->status == 201) {
        ++created;
      } else {
        ADD_FAILURE() << "client " << i << ": "
                      << (r ? std::to_string(r->status) : httplib::to_string(r.error()));
      }
    });
  }
  for (auto& t : clients)
    t.join();
  EXPECT_EQ(created.load(), 200);
  EXPECT_EQ(get("/api/stats").body["submitted_total"], 200);
}

TEST_F(Http, StopCancelsRunningTasks) {
  start();
  submit(R"({"sleep": 1000})");
  const auto t0 = std::chrono::steady_clock::now();
  client_.reset();
  daemon_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}
