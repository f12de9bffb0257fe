// Scheduled tasks with the real binary on a durable store: killed with -9 while tasks are
// scheduled, the next daemon runs each of them exactly once (at once if its time passed while no
// daemon ran), and keeps the later ones scheduled for their own time.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "daemon_process.hpp"
#include "temp_dir.hpp"

extern "C" const char* __tsan_default_suppressions() {
  return "race:libcpp-httplib.so\n";
}

namespace {

using nlohmann::json;

std::vector<std::string> daemon_args(const std::string& data_dir) {
  return {"--listen", "127.0.0.1:0", "--data-dir", data_dir, "--log-level", "warn", "--allow-exec"};
}

json post_task(int port, const json& spec) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30);
  auto r = c.Post("/api/tasks", spec.dump(), "application/json");
  EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "no answer");
  return r && r->status == 201 ? json::parse(r->body) : json();
}

json get_task(int port, const std::string& id) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30);
  auto r = c.Get(("/api/tasks/" + id).c_str());
  return r && r->status == 200 ? json::parse(r->body) : json();
}

// Lines of the file the tasks append their ids to: one per run.
std::map<std::string, int> runs_in(const std::string& path) {
  std::map<std::string, int> runs;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    ++runs[line];
  return runs;
}

}  // namespace

TEST(DelayedRestart, Kill9WhileScheduledRunsEachTaskExactlyOnceAfterwards) {
  TempDir dir;
  const std::string ran = dir / "ran.txt";
  const auto appends = [&](const std::string& name, double delay) {
    return json{{"name", name},
                {"delay", delay},
                {"exec", {"sh", "-c", "echo \"$0\" >> \"$1\"", name, ran}}};
  };
  std::vector<std::string> soon;   // due while no daemon runs
  std::vector<std::string> later;  // still scheduled after the restarts
  double soon_run_at = 0;
  std::map<std::string, double> later_run_at;
  {
    DaemonProcess daemon(daemon_args(dir.path()), dir / "run1.log");
    const std::optional<int> port = daemon.await_port();
    ASSERT_TRUE(port) << daemon.output();
    for (int i = 0; i < 10; ++i) {
      const json t = post_task(*port, appends("soon" + std::to_string(i), 1));
      ASSERT_EQ(t.value("state", ""), "scheduled") << t.dump();
      soon.push_back(t["id"].get<std::string>());
      soon_run_at = std::max(soon_run_at, t["run_at"].get<double>());
    }
    for (int i = 0; i < 3; ++i) {
      const json t = post_task(*port, appends("later" + std::to_string(i), 3600));
      later.push_back(t["id"].get<std::string>());
      later_run_at[later.back()] = t["run_at"].get<double>();
    }
    // Every 201 came after its insert was committed: the kill loses none of them.
    daemon.signal(SIGKILL);
    ASSERT_TRUE(daemon.await_exit(std::chrono::seconds(10)));
  }
  EXPECT_TRUE(runs_in(ran).empty());  // killed before any was due
  // Until the soon ones' time has passed with no daemon running.
  while (
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() <
      soon_run_at + 0.1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (int restart = 2; restart <= 3; ++restart) {
    SCOPED_TRACE("run " + std::to_string(restart));
    DaemonProcess daemon(daemon_args(dir.path()), dir / ("run" + std::to_string(restart) + ".log"));
    const std::optional<int> port = daemon.await_port();
    ASSERT_TRUE(port) << daemon.output();
    for (const std::string& id : soon) {
      httplib::Client c("127.0.0.1", *port);
      c.set_read_timeout(30);
      auto r = c.Get(("/api/tasks/" + id + "/wait?timeout=20").c_str());
      ASSERT_TRUE(r && r->status == 200) << id << " " << (r ? r->body : "no answer");
      const json t = json::parse(r->body);
      EXPECT_EQ(t["state"], "done") << t.dump();
      EXPECT_EQ(t["attempts"], 1) << t.dump();
    }
    for (const std::string& id : later) {
      const json t = get_task(*port, id);
      EXPECT_EQ(t.value("state", ""), "scheduled") << t.dump();
      EXPECT_EQ(t.value("run_at", 0.0), later_run_at[id]);
    }
    const std::map<std::string, int> runs = runs_in(ran);
    EXPECT_EQ(runs.size(), soon.size());
    for (const auto& [name, n] : runs)
      EXPECT_EQ(n, 1) << name << " ran " << n << " times";
    // Writes are committed in order: once this submit is acknowledged, so are the ends above.
    post_task(*port, {{"value", 0}});
    daemon.signal(SIGKILL);
    ASSERT_TRUE(daemon.await_exit(std::chrono::seconds(10)));
  }
}
