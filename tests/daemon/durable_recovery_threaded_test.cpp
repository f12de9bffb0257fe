// Durable task records with the real binary: kill -9 in the middle of a submit storm, SIGTERM
// with running tasks, and the start-up errors of an unusable data directory. Every test works in
// its own temporary directory and restarts the daemon on it.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sqlite3.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "crash_storm.hpp"
#include "daemon_process.hpp"
#include "temp_dir.hpp"

extern "C" const char* __tsan_default_suppressions() {
  return "race:libcpp-httplib.so\n";
}

namespace fs = std::filesystem;
using nlohmann::json;

TEST(Durable, EveryAcceptedTaskSurvivesKill9Seed1) {
  crash_storm(1);
}
TEST(Durable, EveryAcceptedTaskSurvivesKill9Seed2) {
  crash_storm(2);
}
// synchronous=NORMAL gives up only power-loss safety: a killed process loses nothing.
TEST(Durable, EveryAcceptedTaskSurvivesKill9Seed3SyncNormal) {
  crash_storm(3, {"--sync", "normal"});
}

TEST(Durable, SigtermCancelsRunningTasksAndStoresThemSo) {
  TempDir dir;
  std::vector<std::string> ids;
  {
    DaemonProcess daemon(daemon_args(dir.path(), {"--max-running", "2"}), dir / "run1.log");
    const std::optional<int> port = daemon.await_port();
    ASSERT_TRUE(port) << daemon.output();
    httplib::Client c("127.0.0.1", *port);
    for (int i = 0; i < 4; ++i) {  // two run, two wait
      auto r = c.Post("/api/tasks", R"({"sleep": 1000})", "application/json");
      ASSERT_TRUE(r && r->status == 201);
      ids.push_back(json::parse(r->body)["id"].get<std::string>());
    }
    daemon.signal(SIGTERM);
    const std::optional<int> status = daemon.await_exit(std::chrono::seconds(30));
    ASSERT_TRUE(status);
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << daemon.output();
  }
  DaemonProcess daemon(daemon_args(dir.path()), dir / "run2.log");
  const std::optional<int> port = daemon.await_port();
  ASSERT_TRUE(port) << daemon.output();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const json t = full_task(*port, ids[i]);
    EXPECT_EQ(t["state"], "cancelled") << t.dump();
    EXPECT_EQ(t["attempts"], i < 2 ? 1 : 0) << t.dump();
    EXPECT_EQ(t["steps"]["state"], "cancelled") << t.dump();
  }
  // Ids continue after the stored ones.
  httplib::Client c("127.0.0.1", *port);
  auto r = c.Post("/api/tasks", R"({"value": 1})", "application/json");
  ASSERT_TRUE(r && r->status == 201);
  EXPECT_EQ(json::parse(r->body)["id"], "t5");
}

// Issue 10: a daemon restarted after kill -9 (its tasks found running: one retried, one
// interrupted) stopped by SIGTERM must exit within its grace; it hung with its drain and flush
// timers armed against libuv's stale clock (1 run in 3). Repeated, with tasks running each time.
TEST(Durable, SigtermAfterKill9AndRestartExitsWithinTheGrace) {
  TempDir dir;
  for (int round = 0; round < 3; ++round) {
    const std::string log = dir / ("round" + std::to_string(round) + ".log");
    {
      DaemonProcess daemon(daemon_args(dir.path()), log + ".killed");
      const std::optional<int> port = daemon.await_port();
      ASSERT_TRUE(port) << daemon.output();
      httplib::Client c("127.0.0.1", *port);
      for (const char* spec : {R"({"sleep": 1000, "retries": 1})", R"({"sleep": 1000})",
                               R"({"sequence": [{"sleep": 0.05}, {"sleep": 1000}]})"}) {
        auto r = c.Post("/api/tasks", spec, "application/json");
        ASSERT_TRUE(r && r->status == 201);
      }
      daemon.signal(SIGKILL);
      ASSERT_TRUE(daemon.await_exit(std::chrono::seconds(30)));
    }
    DaemonProcess daemon(daemon_args(dir.path(), {"--shutdown-grace", "1"}), log);
    const std::optional<int> port = daemon.await_port();
    ASSERT_TRUE(port) << daemon.output();
    httplib::Client c("127.0.0.1", *port);
    auto r = c.Post("/api/tasks", R"({"sleep": 1000})", "application/json");
    ASSERT_TRUE(r && r->status == 201);
    daemon.signal(SIGTERM);
    // The grace is 1 s; 20 s is far past it even on a loaded machine, and far below a hang.
    const std::optional<int> status = daemon.await_exit(std::chrono::seconds(20));
    ASSERT_TRUE(status) << "round " << round << ": still running 20 s after SIGTERM\n"
                        << daemon.output();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << daemon.output();
  }
}

namespace {

// The exit status and output of a daemon that is expected to refuse to start.
std::pair<int, std::string> failed_start(const std::vector<std::string>& args,
                                         const std::string& log) {
  DaemonProcess daemon(args, log);
  const std::optional<int> status = daemon.await_exit(std::chrono::seconds(30));
  if (!status) return {-1, "still running: " + daemon.output()};
  return {WIFEXITED(*status) ? WEXITSTATUS(*status) : 128 + WTERMSIG(*status), daemon.output()};
}

}  // namespace

TEST(Durable, CorruptFileIsRefusedNamedAndLeftAlone) {
  TempDir dir;
  const std::string data = dir / "data";
  fs::create_directory(data);
  const std::string file = data + "/uasyncd.db";
  const std::string garbage(8192, 'x');
  std::ofstream(file, std::ios::binary) << garbage;
  const auto [code, output] = failed_start(daemon_args(data), dir / "log");
  EXPECT_NE(code, 0) << output;
  EXPECT_NE(output.find(file), std::string::npos) << output;
  EXPECT_NE(output.find("not a database"), std::string::npos) << output;
  std::ifstream in(file, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), garbage);
}

TEST(Durable, ForeignSqliteFileIsRefused) {
  TempDir dir;
  const std::string data = dir / "data";
  fs::create_directory(data);
  // A valid SQLite database made by something else: writing our tables into it would damage it.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((data + "/uasyncd.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE invoices(id INTEGER)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  const auto [code, output] = failed_start(daemon_args(data), dir / "log");
  EXPECT_NE(code, 0) << output;
  EXPECT_NE(output.find("not a uasyncd task database"), std::string::npos) << output;
}

// Root ignores permission bits, so "read-only" is made in ways that hold for root too: a data
// directory whose parent is a regular file (mkdir fails with ENOTDIR), and a directory marked
// immutable (chattr +i, refused even to root) when the file system and capabilities allow it.
TEST(Durable, DataDirUnderARegularFileIsRefusedNamed) {
  TempDir dir;
  const std::string file = dir / "plain";
  std::ofstream(file) << "not a directory";
  const std::string data = file + "/data";
  const auto [code, output] = failed_start(daemon_args(data), dir / "log");
  EXPECT_NE(code, 0) << output;
  EXPECT_NE(output.find(data), std::string::npos) << output;
}

TEST(Durable, ReadOnlyDirectoryIsRefusedNamed) {
  TempDir dir;
  const std::string data = dir / "data";
  fs::create_directory(data);
  bool read_only = false;
  if (geteuid() != 0) {
    read_only = chmod(data.c_str(), 0555) == 0;
  } else {
    const int fd = open(data.c_str(), O_RDONLY | O_DIRECTORY);
    int flags = 0;
    if (fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
      flags |= FS_IMMUTABLE_FL;
      read_only = ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
    }
    if (fd >= 0) close(fd);
  }
  if (!read_only) GTEST_SKIP() << "cannot make a directory read-only for this user here";
  const auto [code, output] = failed_start(daemon_args(data), dir / "log");
  // Undo before any assertion, or the temporary directory could not be removed.
  if (geteuid() == 0) {
    const int fd = open(data.c_str(), O_RDONLY | O_DIRECTORY);
    int flags = 0;
    ioctl(fd, FS_IOC_GETFLAGS, &flags);
    flags &= ~FS_IMMUTABLE_FL;
    ioctl(fd, FS_IOC_SETFLAGS, &flags);
    close(fd);
  } else {
    chmod(data.c_str(), 0755);
  }
  EXPECT_NE(code, 0) << output;
  EXPECT_NE(output.find(data + "/uasyncd.db"), std::string::npos) << output;
}

TEST(Durable, SecondDaemonOnTheSameDirectoryIsRefused) {
  TempDir dir;
  DaemonProcess first(daemon_args(dir.path()), dir / "log1");
  ASSERT_TRUE(first.await_port()) << first.output();
  const auto [code, output] = failed_start(daemon_args(dir.path()), dir / "log2");
  EXPECT_NE(code, 0) << output;
  EXPECT_NE(output.find(dir / "uasyncd.db"), std::string::npos) << output;
  EXPECT_NE(output.find("locked"), std::string::npos) << output;
}

namespace {

json get_json(int port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30);
  auto r = c.Get(path.c_str());
  return r && r->status == 200 ? json::parse(r->body) : json();
}

std::string submit(int port, const json& spec) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30);
  auto r = c.Post("/api/tasks", spec.dump(), "application/json");
  if (!r || r->status != 201) {
    ADD_FAILURE() << "submit " << spec.dump() << ": " << (r ? r->body : "no answer");
    return "";
  }
  return json::parse(r->body)["id"].get<std::string>();
}

// Polls GET /api/tasks/ID until `ready` holds for the record (or 30 s pass); returns it.
template <typename Ready>
json await_task(int port, const std::string& id, Ready ready) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  json t;
  while (std::chrono::steady_clock::now() < deadline) {
    t = full_task(port, id);
    if (!t.is_null() && ready(t)) return t;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << id << " never got there: " << t.dump();
  return t;
}

bool is_final_state(const json& t) {
  const std::string s = t["state"].get<std::string>();
  return s != "pending" && s != "running";
}

void stop_cleanly(DaemonProcess& daemon) {
  daemon.signal(SIGTERM);
  const std::optional<int> status = daemon.await_exit(std::chrono::seconds(30));
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << daemon.output();
}

// Rows in the tasks table of a database no daemon holds.
std::int64_t row_count(const std::string& file, const std::string& where = "") {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  const std::string sql = "SELECT count(*) FROM tasks" + where;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  const std::int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

}  // namespace

TEST(Durable, ExecOutputAndResultAreTheSameAfterARestart) {
  TempDir dir;
  // Past the 1 MiB capture cap, so the stored output is the capped part with its flags, and a
  // failing step whose output is part of its result.
  const json spec = {
      {"sequence",
       json::array({{{"exec", {"sh", "-c", "head -c 1200000 /dev/zero | tr '\\0' x; echo end"}}},
                    {{"exec", {"sh", "-c", "echo out; echo err >&2; exit 3"}}}})}};
  json before;
  json output_before;
  std::string id;
  {
    DaemonProcess daemon(daemon_args(dir.path(), {"--allow-exec"}), dir / "run1.log");
    const std::optional<int> port = daemon.await_port();
    ASSERT_TRUE(port) << daemon.output();
    id = submit(*port, spec);
    ASSERT_FALSE(id.empty());
    before = await_task(*port, id, is_final_state);
    output_before = get_json(*port, "/api/tasks/" + id + "/output");
    stop_cleanly(daemon);
  }
  ASSERT_EQ(before["state"], "failed") << before.dump();
  const json& steps = output_before["steps"];
  ASSERT_EQ(steps.size(), 2u) << output_before.dump();
  EXPECT_EQ(steps[0]["stdout_bytes"], 1200004);
  EXPECT_EQ(steps[0]["stdout_truncated"], true);
  EXPECT_EQ(steps[0]["stdout"].get<std::string>().size(), 1u << 20);
  EXPECT_EQ(steps[1]["stdout"], "out\n");
  EXPECT_EQ(steps[1]["stderr"], "err\n");
  EXPECT_EQ(steps[1]["exit_code"], 3);

  // Restarted without --allow-exec: nothing runs again, the output is read from the file.
  DaemonProcess daemon(daemon_args(dir.path()), dir / "run2.log");
  const std::optional<int> port = daemon.await_port();
  ASSERT_TRUE(port) << daemon.output();
  EXPECT_EQ(full_task(*port, id), before);
  const json output_after = get_json(*port, "/api/tasks/" + id + "/output");
  EXPECT_EQ(output_after, output_before);
  EXPECT_EQ(output_after["steps"][0]["stdout"].get<std::string>().substr(0, 3), "xxx");
  EXPECT_EQ(get_json(*port, "/api/tasks/" + id + ".2/output")["steps"][0]["stderr"], "err\n");
}

TEST(Durable, Kill9MidRunKeepsWhatTheStepsHadDone) {
  TempDir dir;
  const json spec = {{"sequence", json::array({{{"value", "first"}, {"name", "a"}},
                                               {{"exec", {"sh", "-c", "echo hi"}}, {"name", "b"}},
                                               {{"sleep", 3600}, {"name", "c"}},
                                               {{"value", "never"}, {"name", "d"}}})}};
  std::string id;
  {
    DaemonProcess daemon(daemon_args(dir.path(), {"--allow-exec"}), dir / "run1.log");
    const std::optional<int> port = daemon.await_port();
    ASSERT_TRUE(port) << daemon.output();
    id = submit(*port, spec);
    ASSERT_FALSE(id.empty());
    await_task(*port, id,
               [](const json& t) { return t["steps"]["steps"][2]["state"] == "running"; });
    // Step changes are journaled within 50 ms and committed in order with submits: a submit's
    // 201 well after that means they are in the file.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ASSERT_FALSE(submit(*port, {{"value", 0}}).empty());
    daemon.signal(SIGKILL);
    ASSERT_TRUE(daemon.await_exit(std::chrono::seconds(10)));
  }
  DaemonProcess daemon(daemon_args(dir.path()), dir / "run2.log");
  const std::optional<int> port = daemon.await_port();
  ASSERT_TRUE(port) << daemon.output();
  const json t = full_task(*port, id);
  SCOPED_TRACE(t.dump());
  EXPECT_EQ(t["state"], "interrupted");
  EXPECT_EQ(t["attempts"], 1);
  const json& steps = t["steps"]["steps"];
  ASSERT_EQ(steps.size(), 4u);
  EXPECT_EQ(t["steps"]["state"], "interrupted");  // the sequence itself was running
  EXPECT_EQ(steps[0]["state"], "done");
  EXPECT_EQ(steps[0]["result"], "first");
  EXPECT_EQ(steps[1]["state"], "done");
  EXPECT_EQ(steps[1]["result"]["exit_code"], 0);
  EXPECT_EQ(steps[1]["result"]["stdout"], "hi\n");
  EXPECT_EQ(steps[2]["state"], "interrupted");
  EXPECT_EQ(steps[2]["error"]["type"], "Interrupted");
  EXPECT_EQ(steps[3]["state"], "cancelled");  // never started
  // The exec step's output was stored when it ended, not only at the task's end.
  const json output = get_json(*port, "/api/tasks/" + id + "/output");
  ASSERT_EQ(output["steps"].size(), 1u) << output.dump();
  EXPECT_EQ(output["steps"][0]["stdout"], "hi\n");
  EXPECT_EQ(output["steps"][0]["state"], "done");
}

// The daemon's heartbeat as the file holds it (meta 'alive_ms'), read with a connection of its
// own while the daemon runs (WAL: readers do not block it); 0 when none is stored yet.
std::int64_t stored_alive_ms(const std::string& db_path) {
  sqlite3* db = nullptr;
  std::int64_t alive = 0;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'alive_ms'", -1,
                           &s, nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
      alive = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return alive;
}

std::int64_t wall_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Issue 14 bug 7 (docs/dashboard-api.md section 3): a task killed (kill -9) a while into its run
// and found at the restart after an outage ends where the heartbeat last saw the daemon alive,
// so its duration is how long it ran, not that plus the outage.
TEST(Durable, AnInterruptedTasksDurationLeavesOutTheOutage) {
  TempDir dir;
  constexpr std::int64_t kOutageMs = 1000;
  std::string id;
  std::int64_t started_ms = 0;
  std::int64_t seen_alive_ms = 0;
  std::int64_t killed_ms = 0;
  {
    DaemonProcess daemon(daemon_args(dir.path()), dir / "run1.log");
    const std::optional<int> port = daemon.await_port();
    ASSERT_TRUE(port) << daemon.output();
    id = submit(*port, {{"name", "cut short"}, {"sleep", 3600}});
    ASSERT_FALSE(id.empty());
    const json t = await_task(*port, id, [](const json& r) { return r["state"] == "running"; });
    started_ms = std::llround(t["started"].get<double>() * 1000.0);
    // Until the heartbeat has stored a time over a second into the run (a condition: however
    // slow the machine, the stored time is what the restart must end the run at, or later).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (seen_alive_ms < started_ms + 1000 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      seen_alive_ms = stored_alive_ms(dir / "uasyncd.db");
    }
    ASSERT_GE(seen_alive_ms, started_ms + 1000) << "no heartbeat stored while the task ran";
    daemon.signal(SIGKILL);
    killed_ms = wall_now_ms();
    ASSERT_TRUE(daemon.await_exit(std::chrono::seconds(10)));
  }
  // The outage (the scenario, not an assertion: any longer outage must give the same duration).
  std::this_thread::sleep_for(std::chrono::milliseconds(kOutageMs));
  DaemonProcess daemon(daemon_args(dir.path()), dir / "run2.log");
  const std::optional<int> port = daemon.await_port();
  ASSERT_TRUE(port) << daemon.output();
  const json t = full_task(*port, id);
  SCOPED_TRACE(t.dump());
  ASSERT_EQ(t["state"], "interrupted");
  const auto ms = [](const json& seconds) { return std::llround(seconds.get<double>() * 1000.0); };
  // Ended between the last heartbeat seen and the kill: the outage is not in it.
  EXPECT_GE(ms(t["finished"]), seen_alive_ms);
  EXPECT_LE(ms(t["finished"]), killed_ms);
  EXPECT_GE(t["duration"].get<double>(), 1.0);
  EXPECT_LE(std::llround(t["duration"].get<double>() * 1000.0), killed_ms - started_ms);
  // When the restart found it: after the outage.
  EXPECT_GE(ms(t["interrupted_at"]), killed_ms + kOutageMs);
  // The running step ends with the task; the list (read from the file once the restart's write
  // is committed) shows the same duration.
  EXPECT_EQ(t["steps"]["state"], "interrupted");
  json listed = json::object();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (listed.value("state", "") != "interrupted" &&
         std::chrono::steady_clock::now() < deadline) {
    const json page = get_json(*port, "/api/tasks?limit=10");
    if (page.is_object() && !page["tasks"].empty()) listed = page["tasks"][0];
    if (listed.value("state", "") != "interrupted")
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(listed["duration"], t["duration"]);
}

TEST(Durable, RetentionTrimsTheFileBeforeLoading) {
  TempDir dir;
  constexpr int kTasks = 120;
  constexpr int kKeep = 50;
  {
    DaemonProcess daemon(daemon_args(dir.path()), dir / "run1.log");
    const std::optional<int> port = daemon.await_port();
    ASSERT_TRUE(port) << daemon.output();
    std::string last;
    for (int i = 0; i < kTasks; ++i)
      last = submit(*port, {{"value", i}});
    await_task(*port, last, is_final_state);
    stop_cleanly(daemon);
  }
  ASSERT_EQ(row_count(dir / "uasyncd.db"), kTasks);
  {
    DaemonProcess daemon({"--listen", "127.0.0.1:0", "--data-dir", dir.path(), "--log-level",
                          "info", "--keep-finished", std::to_string(kKeep)},
                         dir / "run2.log");
    const std::optional<int> port = daemon.await_port();
    ASSERT_TRUE(port) << daemon.output();
    // Only the rows that are kept were loaded.
    EXPECT_NE(daemon.output().find(dir / "uasyncd.db: 50 tasks"), std::string::npos)
        << daemon.output();
    EXPECT_NE(daemon.output().find("70 old finished tasks deleted"), std::string::npos)
        << daemon.output();
    const std::map<std::string, json> tasks = all_tasks(*port);
    ASSERT_EQ(tasks.size(), static_cast<std::size_t>(kKeep));
    for (int seq = kTasks - kKeep + 1; seq <= kTasks; ++seq) {
      auto it = tasks.find("t" + std::to_string(seq));
      ASSERT_NE(it, tasks.end()) << "t" << seq << " should be one of the newest kept";
      EXPECT_EQ(it->second["result"], seq - 1);
    }
    EXPECT_EQ(submit(*port, {{"value", "next"}}),
              std::string("t").append(std::to_string(kTasks + 1)));
    stop_cleanly(daemon);
  }
  // The new task pushed the oldest kept one out, in the file too.
  EXPECT_EQ(row_count(dir / "uasyncd.db"), kKeep);
  EXPECT_EQ(row_count(dir / "uasyncd.db", " WHERE seq <= 71"), 0);
}

// RLIMIT_FSIZE makes every write past the limit fail (EFBIG) as on a full disk; the daemon's
// log is under the limit too, which a few lines stay well within.
TEST(Durable, FullDiskAtStartIsRefusedNamedAndTheFileKept) {
  TempDir dir;
  const std::string file = dir / "uasyncd.db";
  std::vector<std::string> ids;
  {
    DaemonProcess daemon(daemon_args(dir.path()), dir / "run1.log");
    const std::optional<int> port = daemon.await_port();
    ASSERT_TRUE(port) << daemon.output();
    for (int i = 0; i < 20; ++i)
      ids.push_back(submit(*port, {{"value", i}}));
    await_task(*port, ids.back(), is_final_state);
    stop_cleanly(daemon);
  }
  const auto size_before = fs::file_size(file);
  {
    DaemonProcess daemon(daemon_args(dir.path()), dir / "full.log", 4096);
    const std::optional<int> status = daemon.await_exit(std::chrono::seconds(30));
    ASSERT_TRUE(status) << daemon.output();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) != 0) << daemon.output();
    EXPECT_NE(daemon.output().find(file), std::string::npos) << daemon.output();
    EXPECT_EQ(daemon.output().find("listening on"), std::string::npos) << daemon.output();
  }
  EXPECT_EQ(fs::file_size(file), size_before);
  // A fresh directory on a full disk is refused the same way.
  {
    const std::string fresh = dir / "fresh";
    DaemonProcess daemon(daemon_args(fresh), dir / "fresh.log", 4096);
    const std::optional<int> status = daemon.await_exit(std::chrono::seconds(30));
    ASSERT_TRUE(status) << daemon.output();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) != 0) << daemon.output();
    EXPECT_NE(daemon.output().find(fresh + "/uasyncd.db"), std::string::npos) << daemon.output();
  }
  DaemonProcess daemon(daemon_args(dir.path()), dir / "run3.log");
  const std::optional<int> port = daemon.await_port();
  ASSERT_TRUE(port) << daemon.output();
  const std::map<std::string, json> tasks = all_tasks(*port);
  EXPECT_EQ(tasks.size(), ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ASSERT_TRUE(tasks.count(ids[i])) << ids[i];
    EXPECT_EQ(tasks.at(ids[i])["state"], "done");
    EXPECT_EQ(tasks.at(ids[i])["result"], static_cast<int>(i));
  }
}

TEST(Durable, FullDiskWhileRunningAnswers503AndNeverAcksAnUnstoredTask) {
  TempDir dir;
  std::vector<std::string> acked;    // ids answered 201
  std::vector<std::string> refused;  // names answered otherwise
  {
    // Room for the new database (its log holds every migration to schema 6 before the first
    // checkpoint: 128 KiB is too little since version 6) and a few commits, far less than 200
    // submits need (a log frame of 4 KiB each).
    DaemonProcess daemon(daemon_args(dir.path()), dir / "run1.log", 192 * 1024);
    const std::optional<int> port = daemon.await_port();
    ASSERT_TRUE(port) << daemon.output();
    httplib::Client c("127.0.0.1", *port);
    c.set_read_timeout(30);
    for (int i = 0; i < 200; ++i) {
      const json spec = {{"name", std::string("n").append(std::to_string(i))}, {"value", i}};
      auto r = c.Post("/api/tasks", spec.dump(), "application/json");
      ASSERT_TRUE(r) << "the daemon stopped answering: " << daemon.output();
      if (r->status == 201) {
        EXPECT_TRUE(refused.empty()) << "a 201 after a refusal, with the disk still full";
        acked.push_back(json::parse(r->body)["id"].get<std::string>());
      } else {
        EXPECT_EQ(r->status, 503) << r->body;
        EXPECT_EQ(json::parse(r->body)["error"]["code"], "unavailable") << r->body;
        refused.push_back(spec["name"].get<std::string>());
      }
    }
    EXPECT_FALSE(acked.empty());
    EXPECT_FALSE(refused.empty()) << "the limit was never reached";
    // Still serving reads, unhealthy (it cannot take tasks: a health check sends them elsewhere),
    // and saying why in its log only (/healthz needs no token: it names no file).
    auto health = c.Get("/healthz");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 503);
    EXPECT_EQ(json::parse(health->body)["error"]["code"], "store_unavailable") << health->body;
    EXPECT_EQ(health->body.find("uasyncd.db"), std::string::npos) << health->body;
    EXPECT_FALSE(daemon.exited());
    EXPECT_NE(daemon.output().find(dir / "uasyncd.db"), std::string::npos) << daemon.output();
    daemon.signal(SIGKILL);
    ASSERT_TRUE(daemon.await_exit(std::chrono::seconds(10)));
  }
  DaemonProcess daemon(daemon_args(dir.path()), dir / "run2.log");
  const std::optional<int> port = daemon.await_port();
  ASSERT_TRUE(port) << daemon.output();
  const std::map<std::string, json> tasks = all_tasks(*port);
  for (const std::string& id : acked)
    EXPECT_TRUE(tasks.count(id)) << id << " got a 201 but was not stored";
  std::set<std::string> names;
  for (const auto& [id, t] : tasks)
    names.insert(t["name"].get<std::string>());
  for (const std::string& name : refused)
    EXPECT_FALSE(names.count(name)) << name << " was refused but is stored";
  EXPECT_EQ(tasks.size(), acked.size());
}
