// Issue 10, "exec processes must die with the daemon", with the real binary and in-process:
// kill -9 of the daemon leaves no exec process (grandchildren that left their group included),
// a restart runs a retried task once, not next to an orphan of its first attempt; a step's end
// takes what it started in the background along; exec children never see UASYNCD_* variables.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon_fixture.hpp"
#include "daemon_process.hpp"
#include "proc_scan.hpp"
#include "temp_dir.hpp"

namespace {

using test_support::processes_with;
using test_support::read_file_or_empty;
using test_support::unique_marker;

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

std::size_t count_lines(const std::string& text, const std::string& line) {
  std::size_t n = 0;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    n += l == line ? 1 : 0;
  return n;
}

std::string submit(int port, const json& spec) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30);
  auto r = c.Post("/api/tasks", spec.dump(), "application/json");
  if (!r || r->status != 201) {
    ADD_FAILURE() << "submit: " << (r ? r->body : "no answer");
    return "";
  }
  return json::parse(r->body)["id"].get<std::string>();
}

json get_task(int port, const std::string& id) {
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get(("/api/tasks/" + id).c_str());
  return r && r->status == 200 ? json::parse(r->body) : json();
}

template <class Ready>
bool eventually(Ready ready, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!ready()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

std::vector<std::string> daemon_args(const std::string& data_dir) {
  return {"--listen", "127.0.0.1:0", "--data-dir", data_dir, "--log-level", "warn", "--allow-exec"};
}

}  // namespace

// A gather of exec steps whose commands leave a sleep in their group, one in its own session
// and a double-forked one; each appends "start" when it begins and "done" after 2 s. kill -9
// of the daemon must take all of them within 2 s, and after a restart the retried task runs
// once more to its end: one "done" per step, never two copies alive at once.
TEST(ExecSupervision, Kill9LeavesNoExecProcessAndTheRetryRunsOnce) {
  TempDir dir;
  const std::string marker = unique_marker("7776.");
  const std::string lines = dir / "lines";
  constexpr int kSteps = 3;
  constexpr std::size_t kProcessesPerStep = 4;  // sh and its three sleeps
  const std::string script = "echo start >> " + lines + "; sleep " + marker +
                             " & setsid sh -c 'exec sleep " + marker + "' & (setsid sleep " +
                             marker + " &); sleep 2; echo done >> " + lines;
  json steps = json::array();
  for (int i = 0; i < kSteps; ++i)
    steps.push_back({{"exec", {"sh", "-c", script}}});
  const json spec = {{"gather", steps}, {"retries", 1}};

  std::string id;
  {
    DaemonProcess daemon(daemon_args(dir / "data"), dir / "run1.log");
    const std::optional<int> port = daemon.await_port();
    ASSERT_TRUE(port) << daemon.output();
    id = submit(*port, spec);
    ASSERT_TRUE(
        eventually([&] { return processes_with(marker).size() == kSteps * kProcessesPerStep; }, 5s))
        << processes_with(marker).size() << " processes";
    ASSERT_EQ(count_lines(read_file_or_empty(lines), "start"), static_cast<std::size_t>(kSteps));
    // The attempt is journaled as running within 50 ms: wait for it to be in the file.
    std::this_thread::sleep_for(300ms);
    daemon.signal(SIGKILL);
    ASSERT_TRUE(daemon.await_exit(10s));
    const auto killed_at = std::chrono::steady_clock::now();
    EXPECT_TRUE(eventually([&] { return processes_with(marker).empty(); }, 2s))
        << processes_with(marker).size() << " exec processes outlived the daemon by 2 s";
    std::printf("exec processes left 2 s after kill -9: %zu (gone after %lld ms)\n",
                processes_with(marker).size(),
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::steady_clock::now() - killed_at)
                                           .count()));
  }

  DaemonProcess daemon(daemon_args(dir / "data"), dir / "run2.log");
  const std::optional<int> port = daemon.await_port();
  ASSERT_TRUE(port) << daemon.output();
  json task;
  ASSERT_TRUE(eventually(
      [&] {
        task = get_task(*port, id);
        return !task.is_null() && task["state"] != "pending" && task["state"] != "running";
      },
      20s))
      << task.dump();
  EXPECT_EQ(task["state"], "done") << task.dump();
  EXPECT_EQ(task["attempts"], 2) << task.dump();
  const std::string written = read_file_or_empty(lines);
  EXPECT_EQ(count_lines(written, "start"), 2u * kSteps) << written;
  EXPECT_EQ(count_lines(written, "done"), static_cast<std::size_t>(kSteps))
      << "the first attempt kept running next to the retry:\n"
      << written;
  EXPECT_TRUE(processes_with(marker).empty());
  daemon.signal(SIGTERM);
  EXPECT_TRUE(daemon.await_exit(30s));
}

// The previous run could not sweep: its supervisor, keeper and step were stopped (as a frozen
// machine stops them) when the daemon was killed. The restarted daemon finds the exec lock held,
// waits, then stops the holders (the supervisor and the step's keeper) before it runs anything, so
// the retry never runs next to the first attempt.
TEST(ExecSupervision, RestartStopsAPreviousRunThatDidNotSweep) {
  TempDir dir;
  const std::string marker = unique_marker("7776.");
  const std::string lines = dir / "lines";
  // The step ends only once the test lets it (the file `go`): the first attempt, frozen before
  // that, can never finish on its own, however slow the machine.
  const std::string go = dir / "go";
  const json spec = {{"exec",
                      {"sh", "-c",
                       "echo start >> " + lines + "; sleep " + marker + " & while [ ! -e " + go +
                           " ]; do sleep 0.05; done; echo done >> " + lines}},
                     {"retries", 1}};
  std::vector<pid_t> stopped;
  std::string id;
  {
    DaemonProcess daemon(daemon_args(dir / "data"), dir / "run1.log");
    const std::optional<int> port = daemon.await_port();
    ASSERT_TRUE(port) << daemon.output();
    id = submit(*port, spec);
    ASSERT_TRUE(eventually([&] { return processes_with(marker).size() == 2; }, 5s));
    ASSERT_TRUE(eventually(
        [&] { return read_file_or_empty(lines).find("start") != std::string::npos; }, 5s));
    // The lock file names the supervisor; its children are the keepers.
    const pid_t supervisor = std::stoi(read_file_or_empty(dir / "data/exec.lock"));
    stopped.push_back(supervisor);
    for (const auto& entry : fs::directory_iterator("/proc")) {
      const std::string name = entry.path().filename();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      const std::string stat = read_file_or_empty(entry.path().string() + "/stat");
      const std::size_t paren = stat.rfind(')');
      if (paren == std::string::npos) continue;
      std::istringstream rest(stat.substr(paren + 2));
      char state = 0;
      pid_t ppid = 0;
      rest >> state >> ppid;
      if (ppid == supervisor) stopped.push_back(std::stoi(name));
    }
    ASSERT_EQ(stopped.size(), 2u);            // the supervisor and the one step's keeper
    for (pid_t pid : processes_with(marker))  // and the step's sh and sleep: the whole tree
      stopped.push_back(pid);
    for (pid_t pid : stopped)
      ::kill(pid, SIGSTOP);
    daemon.signal(SIGKILL);
    ASSERT_TRUE(daemon.await_exit(10s));
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(processes_with(marker).size(), 2u) << "the frozen run's step should still be there";
    std::ofstream(go).flush();
  }
  const auto t0 = std::chrono::steady_clock::now();
  DaemonProcess daemon(daemon_args(dir / "data"), dir / "run2.log");
  const std::optional<int> port = daemon.await_port();
  ASSERT_TRUE(port) << daemon.output();
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, 2s) << "it did not wait for the previous run";
  EXPECT_NE(daemon.output().find("exec.lock"), std::string::npos) << daemon.output();
  for (pid_t pid : stopped)
    EXPECT_TRUE(process_gone(pid)) << pid;
  json task;
  ASSERT_TRUE(eventually(
      [&] {
        task = get_task(*port, id);
        return !task.is_null() && task["state"] == "done";
      },
      20s))
      << task.dump();
  EXPECT_EQ(task["attempts"], 2);
  const std::string written = read_file_or_empty(lines);
  EXPECT_EQ(count_lines(written, "start"), 2u) << written;
  EXPECT_EQ(count_lines(written, "done"), 1u) << written;
  EXPECT_TRUE(eventually([&] { return processes_with(marker).empty(); }, 2s));
  daemon.signal(SIGTERM);
  EXPECT_TRUE(daemon.await_exit(30s));
}

// Exec children get the allow-listed environment: the daemon's UASYNCD_* configuration (the
// token first) never reaches a task.
TEST(ExecSupervision, ExecChildrenNeverSeeTheDaemonsConfiguration) {
  TempDir dir;
  // The child process inherits these; nothing else runs in this test process yet.
  ::setenv("UASYNCD_TOKEN", "token-for-exec-test", 1);
  ::setenv("UASYNCD_SHUTDOWN_GRACE", "3", 1);
  DaemonProcess daemon({"--listen", "127.0.0.1:0", "--ephemeral", "--allow-exec"}, dir / "run.log");
  ::unsetenv("UASYNCD_TOKEN");
  ::unsetenv("UASYNCD_SHUTDOWN_GRACE");
  const std::optional<int> port = daemon.await_port();
  ASSERT_TRUE(port) << daemon.output();
  httplib::Client c("127.0.0.1", *port);
  c.set_bearer_token_auth("token-for-exec-test");
  auto r = c.Post("/api/tasks", R"({"exec": ["env"]})", "application/json");
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
  const std::string id = json::parse(r->body)["id"].get<std::string>();
  auto done = c.Get(("/api/tasks/" + id + "/wait?timeout=10").c_str());
  ASSERT_TRUE(done && done->status == 200);
  const json t = json::parse(done->body);
  ASSERT_EQ(t["state"], "done") << t.dump();
  const std::string env = t["result"]["stdout"].get<std::string>();
  EXPECT_NE(env.find("PATH="), std::string::npos) << env;
  EXPECT_EQ(env.find("token-for-exec-test"), std::string::npos) << env;
  EXPECT_EQ(env.find("UASYNCD_"), std::string::npos) << env;
}

namespace {

class ExecStepEnd : public DaemonTest {
 protected:
  void SetUp() override {
    uasyncd::server::DaemonOptions o;
    o.allow_exec = true;
    o.shutdown_grace = 3;
    start(o);
  }
};

}  // namespace

// Issue 10: `sh -c "sleep 7776 >/dev/null 2>&1 & echo started"` ended done and left the sleep
// running forever. A step's end takes its process group (and whatever left it) along.
TEST_F(ExecStepEnd, ABackgroundJobDoesNotOutliveItsStep) {
  const std::string marker = unique_marker("7776.");
  const std::string id = submit(R"({"exec": ["sh", "-c", "sleep )" + marker +
                                R"( >/dev/null 2>&1 & echo $!; setsid sleep )" + marker +
                                R"( >/dev/null 2>&1 & echo started"]})");
  Result r = wait(id);
  ASSERT_EQ(r.body["state"], "done") << r.body.dump();
  const std::string out = r.body["result"]["stdout"].get<std::string>();
  EXPECT_NE(out.find("started"), std::string::npos) << out;
  const int sleeper = std::stoi(out);
  EXPECT_TRUE(process_gone(sleeper));
  EXPECT_TRUE(eventually([&] { return processes_with(marker).empty(); }, 2s))
      << processes_with(marker).size() << " background processes outlived their step";
}
