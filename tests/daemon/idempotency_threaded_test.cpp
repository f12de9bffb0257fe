// POST /api/tasks with an Idempotency-Key: a retried submit (after a 503, a lost connection)
// gets the task the first one made, never a second task; the key is stored with the task, so it
// holds across a restart, for as long as the task is retained.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon_fixture.hpp"

namespace fs = std::filesystem;
namespace srv = uasyncd::server;
using nlohmann::json;

namespace {

class Idempotency : public DaemonTest {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/uasyncd-idem-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    DaemonTest::TearDown();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void start_durable() {
    srv::DaemonOptions o;
    o.data_dir = dir_;
    start(o);
  }
  Result submit_keyed(const std::string& key, const std::string& spec) {
    return result(
        client_->Post("/api/tasks", {{"Idempotency-Key", key}}, spec, "application/json"));
  }
  std::size_t submitted_total() {
    return get("/api/stats").body["submitted_total"].get<std::size_t>();
  }

  std::string dir_;
};

TEST_F(Idempotency, ARetryGetsTheSameTaskAndADifferentSpecIsRefused) {
  start_durable();
  const Result first = submit_keyed("order-17", R"({"value": 1, "name": "a"})");
  ASSERT_EQ(first.status, 201) << first.body.dump();
  EXPECT_EQ(first.body["idempotency_key"], "order-17");
  const std::string id = first.body["id"].get<std::string>();
  // The same spec, spelt differently (key order, spaces): the same task, 200.
  const Result again = submit_keyed("order-17", R"({ "name": "a", "value": 1 })");
  ASSERT_EQ(again.status, 200) << again.body.dump();
  EXPECT_EQ(again.body["id"], id);
  const Result other = submit_keyed("order-17", R"({"value": 2, "name": "a"})");
  EXPECT_EQ(other.status, 422) << other.body.dump();
  EXPECT_EQ(other.body["error"]["code"], "idempotency_key_reused") << other.body.dump();
  // Another key, or none: new tasks.
  EXPECT_EQ(submit_keyed("order-18", R"({"value": 1, "name": "a"})").status, 201);
  EXPECT_EQ(post("/api/tasks", R"({"value": 1, "name": "a"})").status, 201);
  EXPECT_EQ(submitted_total(), 3u);
}

TEST_F(Idempotency, TheKeyHoldsAcrossARestartAndIsFreedWithItsTask) {
  start_durable();
  const Result first = submit_keyed("k1", R"({"value": "x"})");
  ASSERT_EQ(first.status, 201) << first.body.dump();
  const std::string id = first.body["id"].get<std::string>();
  ASSERT_EQ(wait(id).body["state"], "done");
  daemon_->stop();
  start_durable();
  const Result again = submit_keyed("k1", R"({"value": "x"})");
  ASSERT_EQ(again.status, 200) << again.body.dump();
  EXPECT_EQ(again.body["id"], id);
  EXPECT_EQ(again.body["state"], "done");
  EXPECT_EQ(submitted_total(), 0u);
  // Once the task is deleted, the key names nothing: a new task.
  ASSERT_EQ(del("/api/tasks/" + id).status, 200);
  const Result fresh = submit_keyed("k1", R"({"value": "x"})");
  ASSERT_EQ(fresh.status, 201) << fresh.body.dump();
  EXPECT_NE(fresh.body["id"], id);
}

TEST_F(Idempotency, ConcurrentSubmitsWithOneKeyMakeOneTask) {
  start_durable();
  constexpr int kClients = 8;
  std::vector<int> statuses(kClients);
  std::vector<std::string> ids(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", daemon_->port());
      httplib::Result r = c.Post("/api/tasks", {{"Idempotency-Key", "same"}}, R"({"sleep": 0.01})",
                                 "application/json");
      if (!r) return;
      statuses[i] = r->status;
      if (r->status < 300) ids[i] = json::parse(r->body)["id"].get<std::string>();
    });
  }
  for (std::thread& t : clients)
    t.join();
  std::set<std::string> made;
  int created = 0;
  for (int i = 0; i < kClients; ++i) {
    // 201 (made it), 200 (found it), or 409 (another submit with the key was under way).
    EXPECT_TRUE(statuses[i] == 201 || statuses[i] == 200 || statuses[i] == 409) << statuses[i];
    if (statuses[i] == 201) ++created;
    if (!ids[i].empty()) made.insert(ids[i]);
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(made.size(), 1u);
  EXPECT_EQ(submitted_total(), 1u);
  EXPECT_EQ(get("/api/tasks").body["tasks"].size(), 1u);
}

TEST_F(Idempotency, MalformedKeysAreRefused) {
  start(srv::DaemonOptions{});
  EXPECT_EQ(submit_keyed("caf\xc3\xa9", R"({"value": 1})").status, 400);
  EXPECT_EQ(submit_keyed(std::string(256, 'k'), R"({"value": 1})").status, 400);
  EXPECT_EQ(submit_keyed("with space", R"({"value": 1})").status, 400);
  EXPECT_EQ(submit_keyed(std::string(255, 'k'), R"({"value": 1})").status, 201);
  // In memory too (--ephemeral): the key finds the task.
  EXPECT_EQ(submit_keyed(std::string(255, 'k'), R"({"value": 1})").status, 200);
}

}  // namespace
