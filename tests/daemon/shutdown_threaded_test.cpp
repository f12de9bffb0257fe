// Shutdown of the real binary: a signal stops the daemon, cancels what runs, and exits 0 within
// the grace period. The daemon runs as a child process, as a service manager would run it.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon_process.hpp"

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr double kGraceSeconds = 5;

class Shutdown : public ::testing::TestWithParam<int> {
 protected:
  // Starts the daemon on an ephemeral loopback port and returns a client for it.
  std::unique_ptr<httplib::Client> start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--listen",
                                  "127.0.0.1:0",
                                  "--ephemeral",
                                  "--log-level",
                                  "debug",
                                  "--shutdown-grace",
                                  std::to_string(kGraceSeconds)};
    args.insert(args.end(), extra.begin(), extra.end());
    char log[] = "/tmp/uasyncd-shutdown-XXXXXX";
    const int fd = mkstemp(log);
    if (fd >= 0) close(fd);
    log_path_ = log;
    daemon_.emplace(std::move(args), log_path_);
    EXPECT_GT(daemon_->pid(), 0) << "cannot start " << UASYNCD_BIN;
    const std::optional<int> port = daemon_->await_port();
    EXPECT_TRUE(port) << "the daemon never reported its port; it wrote:\n" << daemon_->output();
    if (!port) return nullptr;
    auto client = std::make_unique<httplib::Client>("127.0.0.1", *port);
    client->set_read_timeout(10);
    return client;
  }

  void TearDown() override {
    daemon_.reset();
    if (!log_path_.empty()) std::remove(log_path_.c_str());
  }

  std::optional<DaemonProcess> daemon_;
  std::string log_path_;
};

std::string submit(httplib::Client& client, const std::string& spec) {
  const httplib::Result r = client.Post("/api/tasks", spec, "application/json");
  EXPECT_TRUE(r);
  if (!r) return "";
  EXPECT_EQ(r->status, 201) << r->body;
  return json::parse(r->body).value("id", "");
}

std::string state_of(httplib::Client& client, const std::string& id) {
  const httplib::Result r = client.Get(("/api/tasks/" + id).c_str());
  if (!r || r->status != 200) return "";
  return json::parse(r->body).value("state", "");
}

TEST_P(Shutdown, CancelsRunningTasksAndExitsZeroWithinTheGrace) {
  std::unique_ptr<httplib::Client> client = start();
  ASSERT_TRUE(client);
  const std::string sleeper = submit(*client, R"({"sleep": 600, "name": "long"})");
  const std::string gather =
      submit(*client, R"({"gather": [{"sleep": 600}, {"sleep_ms": 600000}, {"value": 42}]})");
  ASSERT_FALSE(sleeper.empty());
  ASSERT_FALSE(gather.empty());
  EXPECT_EQ(state_of(*client, sleeper), "running");
  EXPECT_EQ(state_of(*client, gather), "running");
  client.reset();

  const auto signalled = Clock::now();
  ASSERT_EQ(kill(daemon_->pid(), GetParam()), 0);
  // The grace bounds how long cancelled tasks may take; these end at once, so the daemon is
  // gone well within it (the margin covers a sanitizer build's slow exit).
  const std::optional<int> status = daemon_->await_exit(
      std::chrono::milliseconds(static_cast<std::int64_t>(kGraceSeconds * 1000)));
  ASSERT_TRUE(status) << "still running " << kGraceSeconds << " s after the signal; it wrote:\n"
                      << daemon_->output();
  EXPECT_LT(Clock::now() - signalled, std::chrono::seconds(static_cast<int>(kGraceSeconds)));
  ASSERT_TRUE(WIFEXITED(*status)) << "killed by signal " << WTERMSIG(*status) << "\n"
                                  << daemon_->output();
  EXPECT_EQ(WEXITSTATUS(*status), 0) << daemon_->output();

  const std::string log = daemon_->output();
  EXPECT_NE(log.find("signal " + std::to_string(GetParam()) + ": stopping"), std::string::npos)
      << log;
  EXPECT_NE(log.find("task " + sleeper + " finished: cancelled"), std::string::npos) << log;
  EXPECT_NE(log.find("task " + gather + " finished: cancelled"), std::string::npos) << log;
}

TEST_P(Shutdown, CancelsPendingTasksToo) {
  std::unique_ptr<httplib::Client> client = start({"--max-running", "1"});
  ASSERT_TRUE(client);
  const std::string running = submit(*client, R"({"sleep": 600})");
  const std::string waiting = submit(*client, R"({"sleep": 600})");
  ASSERT_EQ(state_of(*client, waiting), "pending");
  client.reset();
  ASSERT_EQ(kill(daemon_->pid(), GetParam()), 0);
  const std::optional<int> status = daemon_->await_exit(
      std::chrono::milliseconds(static_cast<std::int64_t>(kGraceSeconds * 1000)));
  ASSERT_TRUE(status) << daemon_->output();
  ASSERT_TRUE(WIFEXITED(*status)) << daemon_->output();
  EXPECT_EQ(WEXITSTATUS(*status), 0) << daemon_->output();
  EXPECT_NE(daemon_->output().find("task " + running + " finished: cancelled"), std::string::npos)
      << daemon_->output();
  EXPECT_NE(daemon_->output().find("task " + waiting + " finished: cancelled"), std::string::npos)
      << daemon_->output();
  // A task that never started is not reported as having started at shutdown.
  EXPECT_EQ(daemon_->output().find("task " + waiting + " started"), std::string::npos)
      << daemon_->output();
}

INSTANTIATE_TEST_SUITE_P(Signals, Shutdown, ::testing::Values(SIGTERM, SIGINT),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(info.param == SIGTERM ? "SIGTERM" : "SIGINT");
                         });

}  // namespace
