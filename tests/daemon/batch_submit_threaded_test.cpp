// POST /api/tasks with several specs (a JSON array, or JSON lines): validated all or nothing,
// stored as one write, answered with the ids in order; and POST /api/tasks?wait=S, submit and
// wait in one round trip.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "daemon_fixture.hpp"
#include "raw_exchange.hpp"
#include "uasyncd/api/json_body.hpp"

namespace fs = std::filesystem;
namespace srv = uasyncd::server;
namespace api = uasyncd::api;
using nlohmann::json;

namespace {

class BatchSubmit : public DaemonTest {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/uasyncd-batch-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    DaemonTest::TearDown();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void start_durable(srv::DaemonOptions o = {}) {
    o.data_dir = dir_;
    o.keep_finished = 100'000;
    start(o);
  }
  Result post_keyed(const std::string& key, const std::string& body) {
    return result(
        client_->Post("/api/tasks", {{"Idempotency-Key", key}}, body, "application/json"));
  }
  // How many tasks the daemon holds, whatever their state.
  std::uint64_t total() {
    const Result r = get("/api/tasks?limit=1");
    EXPECT_EQ(r.status, 200) << r.body.dump();
    return r.body.value("total", std::uint64_t{0});
  }
  // The names of `ids`, read back one by one.
  std::vector<std::string> names_of(const json& ids) {
    std::vector<std::string> out;
    for (const json& id : ids) {
      const Result r = get("/api/tasks/" + id.get<std::string>());
      EXPECT_EQ(r.status, 200) << r.body.dump();
      out.push_back(r.body.value("name", ""));
    }
    return out;
  }
  static json named(int n) { return {{"name", "t" + std::to_string(n)}, {"value", n}}; }
  static json batch(int from, int count) {
    json out = json::array();
    for (int i = from; i < from + count; ++i)
      out.push_back(named(i));
    return out;
  }

  std::string dir_;
};

TEST_F(BatchSubmit, ArrayIsAnsweredWithTheIdsInOrder) {
  start_durable();
  const Result r = post("/api/tasks", batch(0, 5).dump());
  ASSERT_EQ(r.status, 201) << r.body.dump();
  ASSERT_EQ(r.body["ids"].size(), 5u);
  EXPECT_EQ(r.body["replayed"], false);
  EXPECT_EQ(names_of(r.body["ids"]), (std::vector<std::string>{"t0", "t1", "t2", "t3", "t4"}));
  // Ids are ascending in submit order, as the list's newest-first order relies on.
  std::vector<std::string> ids;
  for (const json& id : r.body["ids"])
    ids.push_back(id.get<std::string>());
  for (std::size_t i = 1; i < ids.size(); ++i) {
    EXPECT_LT(srv::parse_job_ref(ids[i - 1])->id, srv::parse_job_ref(ids[i])->id);
  }
  EXPECT_EQ(total(), 5u);
  // They run as single submits do.
  const Result done = wait(ids[3]);
  EXPECT_EQ(done.status, 200);
  EXPECT_EQ(done.body["result"], 3);
}

TEST_F(BatchSubmit, JsonLinesAreABatch) {
  start_durable();
  const std::string body = named(0).dump() + "\r\n\n  \n" + named(1).dump() + "\n" +
                           named(2).dump();  // no final newline
  const Result r = post("/api/tasks", body, "application/x-ndjson");
  ASSERT_EQ(r.status, 201) << r.body.dump();
  EXPECT_EQ(names_of(r.body["ids"]), (std::vector<std::string>{"t0", "t1", "t2"}));
  // One line is one spec: a line that is not JSON is named by its number.
  const Result bad =
      post("/api/tasks", named(3).dump() + "\n{\"value\":\n1}\n", "application/x-ndjson");
  EXPECT_EQ(bad.status, 400) << bad.body.dump();
  EXPECT_EQ(bad.body["error"]["code"], "invalid_json");
  EXPECT_EQ(bad.body["error"]["message"].get<std::string>().rfind("line 2: ", 0), 0u)
      << bad.body.dump();
  EXPECT_EQ(total(), 3u);
}

TEST_F(BatchSubmit, ABadElementCreatesNothingAndIsNamedByItsPath) {
  start_durable();
  json specs = batch(0, 3);
  specs.push_back({{"sequence", {{{"sleep", "long"}}}}});
  specs.push_back(named(4));
  const Result r = post("/api/tasks", specs.dump());
  EXPECT_EQ(r.status, 400) << r.body.dump();
  EXPECT_EQ(r.body["error"]["code"], "invalid_spec");
  EXPECT_EQ(r.body["error"]["message"].get<std::string>().rfind("$[3].sequence[0].sleep: ", 0), 0u)
      << r.body.dump();
  // An element that is not an object at all.
  const Result scalar = post("/api/tasks", R"([{"value": 1}, 7])");
  EXPECT_EQ(scalar.status, 400) << scalar.body.dump();
  EXPECT_EQ(scalar.body["error"]["message"].get<std::string>().rfind("$[1]", 0), 0u)
      << scalar.body.dump();
  // The same in JSON lines.
  const Result lines =
      post("/api/tasks", named(0).dump() + "\n" + R"({"fail": 3})", "application/x-ndjson");
  EXPECT_EQ(lines.status, 400) << lines.body.dump();
  EXPECT_EQ(lines.body["error"]["message"].get<std::string>().rfind("$[1].fail: ", 0), 0u)
      << lines.body.dump();
  EXPECT_EQ(total(), 0u);
  EXPECT_EQ(get("/api/stats").body["submitted_total"], 0);
}

TEST_F(BatchSubmit, ExecWithoutAllowExecRefusesTheWholeBatch) {
  start_durable();
  json specs = batch(0, 2);
  specs.push_back({{"exec", {"true"}}});
  const Result r = post("/api/tasks", specs.dump());
  EXPECT_EQ(r.status, 403) << r.body.dump();
  EXPECT_EQ(r.body["error"]["message"].get<std::string>().rfind("$[2]: ", 0), 0u) << r.body.dump();
  EXPECT_EQ(total(), 0u);
}

TEST_F(BatchSubmit, EmptyBatchesAreRefused) {
  start_durable();
  const Result array = post("/api/tasks", "[]");
  EXPECT_EQ(array.status, 400) << array.body.dump();
  EXPECT_NE(array.body["error"]["message"].get<std::string>().find("1 to 10000 specs"),
            std::string::npos);
  const Result lines = post("/api/tasks", "\n \n", "application/x-ndjson");
  EXPECT_EQ(lines.status, 400) << lines.body.dump();
  const Result other = post("/api/tasks", "[{}]", "text/plain");
  EXPECT_EQ(other.status, 415) << other.body.dump();
  EXPECT_EQ(total(), 0u);
}

TEST_F(BatchSubmit, TenThousandAreTakenOneMoreIsRefused) {
  // 10,000 tasks take a while in one loop turn under the sanitizers: generous guards.
  srv::DaemonOptions o;
  o.loop_reply_timeout = std::chrono::seconds(60);
  start_durable(o);
  client_->set_read_timeout(60);
  const json most = batch(0, static_cast<int>(api::kMaxBatchTasks));
  // The count is checked before the specs: empty (invalid) specs, cheap to parse.
  const json too_many(api::kMaxBatchTasks + 1, json::object());
  const Result refused = post("/api/tasks", too_many.dump());
  EXPECT_EQ(refused.status, 413) << refused.body.dump();
  EXPECT_NE(refused.body["error"]["message"].get<std::string>().find("at most 10000"),
            std::string::npos)
      << refused.body.dump();
  // Many tiny elements are refused as they are counted, not after all of them are parsed.
  std::string ones = "[1";
  for (int i = 0; i < 1'000'000; ++i)
    ones += ",1";
  ones += "]";
  const Result many = post("/api/tasks", ones);
  EXPECT_EQ(many.status, 413) << many.body.dump();
  std::string lines;
  for (const json& spec : too_many)
    lines += spec.dump() + "\n";
  EXPECT_EQ(post("/api/tasks", lines, "application/x-ndjson").status, 413);
  EXPECT_EQ(total(), 0u);

  const Result taken = post("/api/tasks", most.dump());
  ASSERT_EQ(taken.status, 201) << taken.body.dump();
  ASSERT_EQ(taken.body["ids"].size(), api::kMaxBatchTasks);
  EXPECT_EQ(total(), api::kMaxBatchTasks);
  const Result last = get("/api/tasks/" + taken.body["ids"].back().get<std::string>());
  EXPECT_EQ(last.body["name"], "t9999");
}

TEST_F(BatchSubmit, OnlyABatchMayPassTheOneMebibyteLimit) {
  start_durable();
  const std::string big(api::kMaxBodyBytes, 'x');
  const Result single = post("/api/tasks", json{{"value", big}}.dump());
  EXPECT_EQ(single.status, 413) << single.body.dump();
  // Two specs of 600 KiB each: over 1 MiB together, within the batch limit.
  const std::string half(600 * 1024, 'y');
  const Result pair =
      post("/api/tasks", json::array({{{"value", half}}, {{"value", half}}}).dump());
  EXPECT_EQ(pair.status, 201) << pair.body.dump();
  // Past the batch limit: refused from its Content-Length, before a byte of it is read.
  const std::string too_big =
      raw_exchange(daemon_->port(),
                   "POST /api/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Content-Length: " +
                       std::to_string(api::kMaxBatchBodyBytes + 1) + "\r\n\r\n");
  EXPECT_EQ(too_big.rfind("HTTP/1.1 413", 0), 0u) << too_big;
  // Other routes keep the 1 MiB limit.
  const Result bulk = post("/api/tasks/bulk", json{{"action", "cancel"}, {"x", big}}.dump());
  EXPECT_EQ(bulk.status, 413) << bulk.body.dump();
  EXPECT_EQ(total(), 2u);
}

TEST_F(BatchSubmit, IdempotencyKeyReplaysTheWholeBatch) {
  start_durable();
  const std::string specs = batch(0, 3).dump();
  const Result first = post_keyed("k1", specs);
  ASSERT_EQ(first.status, 201) << first.body.dump();
  const Result again = post_keyed("k1", specs);
  EXPECT_EQ(again.status, 200) << again.body.dump();
  EXPECT_EQ(again.body["ids"], first.body["ids"]);
  EXPECT_EQ(again.body["replayed"], true);
  // Other specs, fewer or more of them: not the same request.
  EXPECT_EQ(post_keyed("k1", batch(0, 2).dump()).status, 422);
  EXPECT_EQ(post_keyed("k1", batch(0, 4).dump()).status, 422);
  EXPECT_EQ(post_keyed("k1", batch(1, 3).dump()).status, 422);
  // A key a single submit used: a batch with it is another request.
  ASSERT_EQ(post_keyed("k2", named(7).dump()).status, 201);
  EXPECT_EQ(post_keyed("k2", batch(7, 2).dump()).status, 422);
  EXPECT_EQ(total(), 4u);
  // The key survives a restart, as a single submit's does.
  daemon_->stop();
  start_durable();
  const Result after = post_keyed("k1", specs);
  EXPECT_EQ(after.status, 200) << after.body.dump();
  EXPECT_EQ(after.body["ids"], first.body["ids"]);
  EXPECT_EQ(total(), 4u);
}

TEST_F(BatchSubmit, SubmitAndWaitAnswersTheFinishedRecord) {
  start_durable();
  const Result done = post("/api/tasks?wait=10", R"({"name": "quick", "value": 42})");
  EXPECT_EQ(done.status, 201) << done.body.dump();
  EXPECT_EQ(done.body["state"], "done");
  EXPECT_EQ(done.body["result"], 42);
  EXPECT_TRUE(done.body.contains("steps"));
  // Still running when the wait ends: 202 and the record as it is.
  const Result running = post("/api/tasks?wait=0.05", R"({"sleep": 1000})");
  EXPECT_EQ(running.status, 202) << running.body.dump();
  EXPECT_EQ(running.body["state"], "running");
  // A replayed key waits for the task the first submit made, answered 200.
  const Result keyed = result(client_->Post("/api/tasks?wait=10", {{"Idempotency-Key", "w1"}},
                                            R"({"value": 1})", "application/json"));
  EXPECT_EQ(keyed.status, 201) << keyed.body.dump();
  const Result replayed = result(client_->Post("/api/tasks?wait=10", {{"Idempotency-Key", "w1"}},
                                               R"({"value": 1})", "application/json"));
  EXPECT_EQ(replayed.status, 200) << replayed.body.dump();
  EXPECT_EQ(replayed.body["id"], keyed.body["id"]);
  EXPECT_EQ(replayed.body["state"], "done");
}

TEST_F(BatchSubmit, SubmitAndWaitChecksItsParameter) {
  start_durable();
  EXPECT_EQ(post("/api/tasks?wait=1e1", R"({"value": 1})").status, 400);
  EXPECT_EQ(post("/api/tasks?wait=-1", R"({"value": 1})").status, 400);
  EXPECT_EQ(post("/api/tasks?wait=5", batch(0, 2).dump()).status, 400);
  EXPECT_EQ(total(), 0u);
}

// No thread waits for a parked submit: more of them than there are HTTP threads are answered.
TEST_F(BatchSubmit, SubmitAndWaitHoldsNoThread) {
  srv::DaemonOptions o;
  o.http_threads = 2;
  start_durable(o);
  constexpr int kWaiters = 8;
  std::vector<std::thread> waiters;
  std::atomic<int> cancelled{0};
  for (int i = 0; i < kWaiters; ++i) {
    waiters.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", daemon_->port());
      c.set_read_timeout(30);
      auto r = c.Post("/api/tasks?wait=20",
                      json{{"name", "w" + std::to_string(i)}, {"sleep", 1000}}.dump(),
                      "application/json");
      if (r && r->status == 201 && json::parse(r->body)["state"] == "cancelled") ++cancelled;
    });
  }
  // All of them parked: every task exists and runs while their submits wait.
  const Result listed = poll("/api/tasks?state=running",
                             [](const json& body) { return body.value("total", 0) == kWaiters; });
  EXPECT_EQ(listed.body.value("total", 0), kWaiters) << listed.body.dump();
  // Another request is still served at once.
  EXPECT_EQ(get("/healthz").status, 200);
  // Cancelling them ends the waits: each submit is answered with its finished (cancelled) task.
  EXPECT_EQ(
      post("/api/tasks/bulk", R"({"action": "cancel", "filter": {"state": "running"}})").status,
      200);
  for (std::thread& t : waiters)
    t.join();
  EXPECT_EQ(cancelled.load(), kWaiters);
}

}  // namespace
