// Shutdown of the real binary: a signal stops the daemon, cancels what runs, and exits 0 within
// the grace period. The daemon runs as a child process, as a service manager would run it.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr double kGraceSeconds = 5;

// The daemon binary with its stdout and stderr in one pipe that the test reads.
class DaemonProcess {
 public:
  explicit DaemonProcess(std::vector<std::string> args) {
    int fds[2];
    if (pipe(fds) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    args.insert(args.begin(), UASYNCD_BINARY);
    std::vector<char*> argv;
    for (std::string& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings = child_environment();
    std::vector<char*> envp;
    for (std::string& e : env_strings)
      envp.push_back(e.data());
    envp.push_back(nullptr);
    if (posix_spawn(&pid_, UASYNCD_BINARY, &actions, nullptr, argv.data(), envp.data()) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    out_ = fds[0];
  }
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;
  ~DaemonProcess() {
    if (pid_ > 0 && !exit_status_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) close(out_);
    if (!suppressions_.empty()) std::remove(suppressions_.c_str());
  }

  pid_t pid() const { return pid_; }
  const std::string& output() const { return output_; }

  // Reads output until `pattern` matches a line (its first group is returned) or `timeout`.
  std::optional<std::string> await_line(const std::regex& pattern, std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::size_t scanned = 0;
    for (;;) {
      for (std::size_t nl; (nl = output_.find('\n', scanned)) != std::string::npos;) {
        std::smatch m;
        const std::string line = output_.substr(scanned, nl - scanned);
        scanned = nl + 1;
        if (std::regex_search(line, m, pattern)) return m.size() > 1 ? m[1].str() : line;
      }
      if (Clock::now() >= deadline || !read_some(deadline)) return std::nullopt;
    }
  }

  // Waits for the process to exit; its wait status, or nullopt if it still runs at `timeout`.
  std::optional<int> await_exit(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!exit_status_) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_status_ = status;
        break;
      }
      if (Clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    while (read_some(Clock::now() + std::chrono::seconds(2))) {
    }
    return exit_status_;
  }

 private:
  // Our environment, plus (for a ThreadSanitizer build of the daemon) the same suppression of
  // races inside the uninstrumented libcpp-httplib that the in-process tests declare.
  std::vector<std::string> child_environment() {
    std::vector<std::string> env;
    std::string tsan_options;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry = *e;
      if (entry.rfind("TSAN_OPTIONS=", 0) == 0) {
        tsan_options = entry.substr(13);
      } else {
        env.push_back(entry);
      }
    }
    char path[] = "/tmp/uasyncd-tsan-XXXXXX";
    const int fd = mkstemp(path);
    if (fd >= 0) {
      const std::string rules = "race:libcpp-httplib.so\n";
      const bool written =
          write(fd, rules.data(), rules.size()) == static_cast<ssize_t>(rules.size());
      close(fd);
      suppressions_ = path;
      if (written)
        tsan_options += (tsan_options.empty() ? "" : ":") + std::string("suppressions=") + path;
    }
    if (!tsan_options.empty()) env.push_back("TSAN_OPTIONS=" + tsan_options);
    return env;
  }

  // Appends what the child wrote; false at end of file or when nothing came by `deadline`.
  bool read_some(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{out_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0))) <= 0) return false;
    char buf[4096];
    const ssize_t n = read(out_, buf, sizeof buf);
    if (n <= 0) return false;
    output_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  std::string output_;
  std::optional<int> exit_status_;
  std::string suppressions_;
};

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
    daemon_.emplace(std::move(args));
    EXPECT_GT(daemon_->pid(), 0) << "cannot start " << UASYNCD_BINARY;
    const std::optional<std::string> port = daemon_->await_line(
        std::regex(R"(^listening on 127\.0\.0\.1:(\d+)$)"), std::chrono::seconds(30));
    EXPECT_TRUE(port) << "the daemon never reported its port; it wrote:\n" << daemon_->output();
    if (!port) return nullptr;
    auto client = std::make_unique<httplib::Client>("127.0.0.1", std::stoi(*port));
    client->set_read_timeout(10);
    return client;
  }

  std::optional<DaemonProcess> daemon_;
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

  const std::string& log = daemon_->output();
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
