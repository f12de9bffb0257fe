// Commands handed to the loop thread: one that the loop has not started by its deadline never
// runs (a 503 means that nothing happened), one that has started reports what it did, and one
// that throws is answered as an error while the loop and the daemon go on.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "daemon_fixture.hpp"
#include "forwarding_backend.hpp"
#include "uasyncd/api/http_server.hpp"
#include "uasyncd/api/routes.hpp"
#include "uasyncd/bridge/job_bridge.hpp"
#include "uasyncd/bridge/loop_thread.hpp"

namespace srv = uasyncd::server;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

class LoopCommands : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_.start(
        false, [] {}, [] {});
  }
  void TearDown() override {
    loop_.post([this] { loop_.stop_from_loop(); });
    loop_.join();
  }
  // Keeps the loop thread busy for `d` (a command that blocks it, as a long loop step would).
  void block_loop(std::chrono::milliseconds d) {
    std::atomic<bool> started{false};
    loop_.post([&started, d] {
      started = true;
      std::this_thread::sleep_for(d);
    });
    while (!started)
      std::this_thread::sleep_for(1ms);
  }
  srv::LoopThread loop_;
};

TEST_F(LoopCommands, ACommandNotStartedByItsDeadlineNeverRuns) {
  block_loop(300ms);
  auto ran = std::make_shared<std::atomic<bool>>(false);
  const std::optional<int> r = loop_.call<int>(
      [ran] {
        *ran = true;
        return 1;
      },
      50ms);
  EXPECT_FALSE(r);
  // The loop gets to the queue after the blocker: the dropped command must still not run.
  EXPECT_EQ(loop_.call<int>([] { return 2; }, 5000ms), 2);
  EXPECT_FALSE(*ran);
}

TEST_F(LoopCommands, ACommandStartedBeforeItsDeadlineReportsWhatItDid) {
  const std::optional<int> r = loop_.call<int>(
      [] {
        std::this_thread::sleep_for(200ms);  // ends long after the caller's deadline
        return 7;
      },
      50ms);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 7);
}

TEST_F(LoopCommands, AnExceptionGoesToTheCallerAndTheLoopGoesOn) {
  EXPECT_THROW(loop_.call<int>([]() -> int { throw std::runtime_error("broken"); }, 5000ms),
               std::runtime_error);
  loop_.post([] { throw std::logic_error("posted and broken"); });
  EXPECT_EQ(loop_.call<int>([] { return 3; }, 5000ms), 3);
}

// A real memory backend whose insert throws for a job named "throw": a failure on the loop
// thread in the middle of a submit, as a store that breaks would cause.
class ThrowingBackend final : public ForwardingBackend {
 public:
  ThrowingBackend() : ForwardingBackend(srv::make_memory_backend()) {}
  srv::WriteTicket insert(const srv::Job& job) override {
    if (job.name() == "throw") throw std::runtime_error("the store broke");
    return ForwardingBackend::insert(job);
  }
  srv::WriteTicket insert_all(std::span<const srv::Job* const> jobs) override {
    for (const srv::Job* job : jobs) {
      if (job->name() == "throw") throw std::runtime_error("the store broke");
    }
    return ForwardingBackend::insert_all(jobs);
  }
};

TEST(LoopCommandErrors, AThrowingCommandIsAnswered500AndTheDaemonGoesOn) {
  ThrowingBackend backend;
  srv::FinishedJobCache cache(16);
  srv::JobBridge bridge(srv::BridgeOptions{}, backend, cache);
  bridge.start();
  uasyncd::api::Routes routes(bridge, uasyncd::api::RouteOptions{});
  uasyncd::api::HttpServer http;
  routes.install(http);
  const int port = http.start("127.0.0.1", 0);
  ASSERT_GT(port, 0);
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(10);

  auto broken = client.Post("/api/tasks", R"({"name": "throw", "value": 1})", "application/json");
  ASSERT_TRUE(broken);
  EXPECT_EQ(broken->status, 500) << broken->body;
  EXPECT_EQ(broken->get_header_value("Content-Type"), "application/json");
  const json error = json::parse(broken->body);
  EXPECT_EQ(error["error"]["code"], "internal") << broken->body;
  EXPECT_NE(error["error"]["message"].get<std::string>().find("the store broke"),
            std::string::npos);

  auto fine = client.Post("/api/tasks", R"({"value": 2})", "application/json");
  ASSERT_TRUE(fine);
  EXPECT_EQ(fine->status, 201) << fine->body;
  const std::string first = json::parse(fine->body)["id"].get<std::string>();

  // A batch whose write fails leaves none of its tasks behind, not even in the loop's RAM.
  auto batch = client.Post("/api/tasks", R"([{"value": 3}, {"name": "throw", "value": 4}])",
                           "application/json");
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->status, 500) << batch->body;
  const std::uint64_t next = srv::parse_job_ref(first)->id + 1;
  // The single submit whose write threw too (the id before `first`).
  for (std::uint64_t id : {next - 2, next, next + 1}) {
    auto gone = client.Get(("/api/tasks/" + srv::job_id_text(id)).c_str());
    ASSERT_TRUE(gone);
    EXPECT_EQ(gone->status, 404) << gone->body;
  }
  auto health = client.Get("/api/stats");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  http.stop(1000ms);
  bridge.stop(0ms);
}

}  // namespace
