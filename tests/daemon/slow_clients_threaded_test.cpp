// The daemon with slow and waiting clients (issue 9, "Slow and idle clients must not starve the
// API"): long-polls hold no HTTP thread, slowloris connections neither, a submit and /healthz
// still answer at once, and a SIGTERM'd daemon exits within its grace whatever is connected.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "../http/raw_client.hpp"
#include "daemon_fixture.hpp"
#include "daemon_process.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr auto kPrompt = 1000ms;  // the sanitizers slow everything several times
#else
constexpr auto kPrompt = 100ms;
#endif

std::chrono::milliseconds ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t);
}

std::string wait_request(const std::string& id, const std::string& timeout = "60") {
  return get_request("/api/tasks/" + id + "/wait?timeout=" + timeout);
}

}  // namespace

class SlowClientsTest : public DaemonTest {};

TEST_F(SlowClientsTest, TwoHundredLongPollsAndHundredSlowlorisLeaveTheApiPrompt) {
  start();
  const std::string id = submit(R"({"sleep": 3600})");
  std::vector<std::unique_ptr<RawClient>> polls;
  for (int i = 0; i < 200; ++i) {
    polls.push_back(std::make_unique<RawClient>(daemon_->port()));
    ASSERT_TRUE(polls.back()->send(wait_request(id)));
  }
  std::vector<std::unique_ptr<RawClient>> slow;
  for (int i = 0; i < 100; ++i) {
    slow.push_back(std::make_unique<RawClient>(daemon_->port()));
    ASSERT_TRUE(slow.back()->send("GET /healthz HTTP/1.1\r\nX-Slow: 1\r\n"));
  }
  std::this_thread::sleep_for(300ms);  // every poll has reached the loop
  for (int round = 0; round < 3; ++round) {
    RawClient health(daemon_->port());
    auto t = Clock::now();
    ASSERT_TRUE(health.send(get_request("/healthz")));
    const auto h = health.read_response(5000ms);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->status, 200);
    EXPECT_LT(ms_since(t), kPrompt);
    t = Clock::now();
    const std::string other = submit(R"({"value": 1})");
    EXPECT_LT(ms_since(t), kPrompt);
    EXPECT_FALSE(other.empty());
  }
  // None of the polls was answered meanwhile; a cancel answers them all.
  for (auto& p : polls) {
    p->pump();
    EXPECT_FALSE(p->read_response(0ms));
  }
  EXPECT_EQ(post("/api/tasks/" + id + "/cancel", "").status, 202);
  for (auto& p : polls) {
    const auto r = p->read_response(10000ms);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(json::parse(r->body).at("state"), "cancelled");
  }
}

TEST_F(SlowClientsTest, APollThatRunsOutAnswers202WithTheTaskAsItIs) {
  start();
  const std::string id = submit(R"({"sleep": 3600})");
  RawClient c(daemon_->port());
  const auto t = Clock::now();
  ASSERT_TRUE(c.send(wait_request(id, "0.2")));
  const auto r = c.read_response(5000ms);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(json::parse(r->body).at("state"), "running");
  EXPECT_GE(ms_since(t), 180ms);
  // Its connection serves the next poll, and that one sees the end.
  ASSERT_TRUE(c.send(wait_request(id)));
  EXPECT_FALSE(c.read_response(50ms));
  EXPECT_EQ(post("/api/tasks/" + id + "/cancel", "").status, 202);
  const auto end = c.read_response(5000ms);
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, 200);
}

TEST_F(SlowClientsTest, LongPollsPastMaxWaitersGet503) {
  uasyncd::server::DaemonOptions options;
  options.max_waiters = 2;
  start(options);
  const std::string id = submit(R"({"sleep": 3600})");
  RawClient a(daemon_->port());
  RawClient b(daemon_->port());
  ASSERT_TRUE(a.send(wait_request(id)));
  ASSERT_TRUE(b.send(wait_request(id)));
  std::this_thread::sleep_for(200ms);
  const Result third = wait(id);
  EXPECT_EQ(third.status, 503);
  EXPECT_EQ(third.body["error"]["code"], "unavailable");
  EXPECT_EQ(post("/api/tasks/" + id + "/cancel", "").status, 202);
  ASSERT_TRUE(a.read_response(5000ms));
  ASSERT_TRUE(b.read_response(5000ms));
  EXPECT_EQ(wait(id).status, 200);
}

TEST_F(SlowClientsTest, APollOnAnUnknownTaskIs404AtOnce) {
  start();
  const Result r = wait("t999", 30);
  EXPECT_EQ(r.status, 404);
}

TEST(SlowClientsProcess, SigtermExitsWithinTheGraceWithSlowClientsConnected) {
  const std::string log = ::testing::TempDir() + "slow_clients_sigterm.log";
  std::remove(log.c_str());  // a port from an earlier run's log must not be read
  DaemonProcess daemon({"--listen", "127.0.0.1:0", "--ephemeral", "--shutdown-grace", "1"}, log);
  const std::optional<int> port = daemon.await_port();
  ASSERT_TRUE(port) << daemon.output();
  // A task and a long-poll on it, a hundred slowloris connections, an idle keep-alive one.
  httplib::Client client("127.0.0.1", *port);
  const httplib::Result created =
      client.Post("/api/tasks", R"({"sleep": 3600})", "application/json");
  ASSERT_TRUE(created);
  const std::string id = nlohmann::json::parse(created->body).at("id").get<std::string>();
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 50; ++i) {
    clients.push_back(std::make_unique<RawClient>(*port));
    ASSERT_TRUE(clients.back()->send(wait_request(id)));
  }
  for (int i = 0; i < 100; ++i) {
    clients.push_back(std::make_unique<RawClient>(*port));
    ASSERT_TRUE(clients.back()->send("GET /healthz HTTP/1.1\r\nX-Slow: 1\r\n"));
  }
  // A forged log line, percent-encoded in the path.
  RawClient forger(*port);
  ASSERT_TRUE(forger.send(get_request("/api/tasks/x%0aFORGED%20line")));
  const auto refused = forger.read_response(5000ms);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400);
  std::this_thread::sleep_for(200ms);

  const auto t = Clock::now();
  daemon.signal(SIGTERM);
  const std::optional<int> status = daemon.await_exit(10000ms);
  ASSERT_TRUE(status) << "still running 10 s after SIGTERM";
  EXPECT_LT(ms_since(t), 1000ms + 1000ms);  // --shutdown-grace 1, plus 1 s
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << daemon.output();
  const std::string out = daemon.output();
  EXPECT_EQ(out.find("\nFORGED"), std::string::npos) << out;
  EXPECT_NE(out.find("/api/tasks/x\\x0aFORGED line 400"), std::string::npos) << out;
}
