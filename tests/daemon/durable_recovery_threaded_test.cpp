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
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon_process.hpp"

extern "C" const char* __tsan_default_suppressions() {
  return "race:libcpp-httplib.so\n";
}

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/uasyncd-durable-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::vector<std::string> daemon_args(const std::string& data_dir,
                                     std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"--listen",    "127.0.0.1:0", "--data-dir",      data_dir,
                                "--log-level", "warn",        "--keep-finished", "100000"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// Every task the daemon lists, by id, with the full record (GET) of each.
std::map<std::string, json> all_tasks(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30);
  std::map<std::string, json> tasks;
  std::string cursor;
  for (;;) {
    const std::string path =
        "/api/tasks?limit=1000" + (cursor.empty() ? std::string() : "&cursor=" + cursor);
    auto r = c.Get(path.c_str());
    if (!r || r->status != 200) {
      ADD_FAILURE() << "list failed";
      return tasks;
    }
    const json page = json::parse(r->body);
    for (const json& t : page["tasks"]) {
      const std::string id = t["id"].get<std::string>();
      EXPECT_EQ(tasks.count(id), 0u) << id << " listed twice";
      tasks[id] = t;
    }
    if (page["next_cursor"].is_null()) return tasks;
    cursor = page["next_cursor"].get<std::string>();
  }
}

json full_task(int port, const std::string& id) {
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get(("/api/tasks/" + id).c_str());
  return r && r->status == 200 ? json::parse(r->body) : json();
}

// The kinds the storm submits, chosen by the task's number so the check knows what to expect.
json storm_spec(int client, int n) {
  const std::string name = "c" + std::to_string(client) + "-" + std::to_string(n);
  switch (n % 4) {
    case 0:
      return {{"name", name}, {"value", name}};
    case 1:
      return {{"name", name}, {"sleep", 1000}};
    case 2:
      return {{"name", name}, {"sleep", 1000}, {"retries", 1}};
    default:
      return {{"name", name}, {"fail", "boom"}, {"retries", 1}, {"retry_delay", 0}};
  }
}

// What a task of each kind may look like after a crash and a restart.
void expect_consistent(const json& task, const json& spec) {
  const std::string state = task["state"].get<std::string>();
  const int attempts = task["attempts"].get<int>();
  const std::string name = spec["name"].get<std::string>();
  SCOPED_TRACE(task.dump());
  if (spec.contains("value")) {
    // Instant: done with its value, unless it was caught running by the kill.
    EXPECT_TRUE(state == "done" || state == "interrupted");
    if (state == "done") {
      EXPECT_EQ(task["result"], name);
    }
    EXPECT_EQ(attempts, 1);
  } else if (spec.contains("fail")) {
    // Fails twice (one retry), or the second run was the one the kill caught.
    EXPECT_TRUE(state == "failed" || state == "interrupted");
    EXPECT_EQ(attempts, 2);
    if (state == "failed") {
      EXPECT_EQ(task["error"]["message"], "boom");
    }
  } else if (spec.contains("retries")) {
    // Never interrupted: the restart runs it again, as a first or second attempt.
    EXPECT_EQ(state, "running");
    EXPECT_TRUE(attempts == 1 || attempts == 2);
  } else {
    // A pending one is queued again and runs; a running one is interrupted, never re-run.
    EXPECT_TRUE(state == "running" || state == "interrupted");
    EXPECT_EQ(attempts, 1);
  }
}

void crash_storm(unsigned seed, std::vector<std::string> flags = {}) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  constexpr int kClients = 6;
  constexpr int kTotal = 5000;
  TempDir dir;
  std::mt19937 rng(seed);
  const int kill_after = std::uniform_int_distribution<int>(200, kTotal - 200)(rng);

  std::map<std::string, json> acked;  // id -> spec answered 201
  std::map<std::string, json> sent;   // name -> spec, answered or not
  std::mutex mu;
  std::atomic<int> acks{0};
  {
    DaemonProcess daemon(daemon_args(dir.path(), flags), dir / "run1.log");
    const std::optional<int> port = daemon.await_port();
    ASSERT_TRUE(port) << daemon.output();
    std::atomic<bool> killed{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        httplib::Client client("127.0.0.1", *port);
        client.set_read_timeout(10);
        for (int n = c; n < kTotal && !killed; n += kClients) {
          const json spec = storm_spec(c, n);
          {
            std::lock_guard lock(mu);
            sent[spec["name"].get<std::string>()] = spec;
          }
          auto r = client.Post("/api/tasks", spec.dump(), "application/json");
          if (!r) break;  // the daemon is gone
          if (r->status != 201) continue;
          std::lock_guard lock(mu);
          acked[json::parse(r->body)["id"].get<std::string>()] = spec;
          ++acks;
        }
      });
    }
    while (acks < kill_after && !daemon.exited())
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    daemon.signal(SIGKILL);
    killed = true;
    for (std::thread& t : clients)
      t.join();
    ASSERT_TRUE(daemon.await_exit(std::chrono::seconds(10)));
  }

  DaemonProcess daemon(daemon_args(dir.path()), dir / "run2.log");
  const std::optional<int> port = daemon.await_port();
  ASSERT_TRUE(port) << daemon.output();
  // Restored pending and retried tasks start at once; give the instant ones time to end.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const std::map<std::string, json> stored = all_tasks(*port);
  EXPECT_GE(acked.size(), static_cast<std::size_t>(kill_after));
  for (const auto& [id, spec] : acked) {
    auto it = stored.find(id);
    ASSERT_NE(it, stored.end()) << id << " got a 201 but is gone after the restart";
    EXPECT_EQ(it->second["name"], spec["name"]) << id;
    expect_consistent(it->second, spec);
  }
  // A task may be stored without its 201 (the kill came between commit and answer), but only
  // one per client in flight, and whole: the exact spec that was sent.
  std::size_t unacked = 0;
  for (const auto& [id, task] : stored) {
    if (acked.count(id)) continue;
    ++unacked;
    const json full = full_task(*port, id);
    auto it = sent.find(task["name"].get<std::string>());
    ASSERT_NE(it, sent.end()) << "a task nobody sent: " << full.dump();
    EXPECT_EQ(full["spec"], it->second);
    expect_consistent(task, it->second);
  }
  EXPECT_LE(unacked, static_cast<std::size_t>(kClients));
  daemon.signal(SIGTERM);
  const std::optional<int> status = daemon.await_exit(std::chrono::seconds(30));
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << daemon.output();
}

}  // namespace

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
