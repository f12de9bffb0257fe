// The daemon on PostgreSQL (--database-url) with the real binary and a real server (the tests'
// own, tests/support/pg-test-server.sh): kill -9 under a submit storm, connections cut under load,
// a second daemon on the same database, and the start-up errors.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "crash_storm.hpp"
#include "daemon_process.hpp"
#include "pg_test_db.hpp"
#include "temp_dir.hpp"

extern "C" const char* __tsan_default_suppressions() {
  return "race:libcpp-httplib.so\n";
}

namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// A database of the test's own, named after the test.
std::string test_database() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  // Appended piece by piece: g++ 12 at -O3 warns falsely on "d_" + std::to_string(n) (PR 105329).
  std::string name = "d_";
  name += std::to_string(::getpid());
  name += '_';
  for (char c : std::string(info->name()))
    name += static_cast<char>(std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '_');
  return name.substr(0, 63);
}

// A short lease: a restarted daemon is a new instance, which takes over the tasks of the one
// that was killed once that one's lease is found expired (two heartbeats after its death).
std::vector<std::string> pg_flags(const std::string& url) {
  return {"--database-url", url, "--lease-ttl", "3"};
}

TEST(Postgres, EveryAcceptedTaskSurvivesKill9) {
  const std::string url = uasyncd::test::pg_test_database(test_database());
  crash_storm(4, pg_flags(url));
}

// Cluster mode: a second daemon on the same database is another instance of one cluster. Each
// sees the other's tasks, and their ids never collide.
TEST(Postgres, TwoDaemonsOnTheSameDatabaseShareItsTasks) {
  const std::string url = uasyncd::test::pg_test_database(test_database());
  TempDir dir;
  DaemonProcess first(daemon_args(dir / "a", pg_flags(url)), dir / "a.log");
  ASSERT_TRUE(first.await_port()) << first.output();
  DaemonProcess second(daemon_args(dir / "b", pg_flags(url)), dir / "b.log");
  ASSERT_TRUE(second.await_port()) << second.output();
  httplib::Client a("127.0.0.1", *first.await_port());
  httplib::Client b("127.0.0.1", *second.await_port());
  std::set<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    httplib::Client& to = i % 2 == 0 ? a : b;
    auto r = to.Post("/api/tasks?wait=10", R"({"value": 7})", "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
    EXPECT_EQ(json::parse(r->body)["state"], "done") << r->body;
    ids.insert(json::parse(r->body)["id"].get<std::string>());
  }
  EXPECT_EQ(ids.size(), 20u) << "an id was given twice";
  // Each reads the other's.
  for (const std::string& id : ids) {
    auto r = a.Get("/api/tasks/" + id);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << id;
  }
  auto r = b.Get("/api/instances");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json instances = json::parse(r->body);
  EXPECT_EQ(instances["cluster"], true);
  ASSERT_EQ(instances["instances"].size(), 2u) << r->body;
  int selves = 0;
  for (const json& i : instances["instances"])
    selves += i["self"].get<bool>() ? 1 : 0;
  EXPECT_EQ(selves, 1) << r->body;
}

// The server drops the daemon's connections (every session of its database ends, as in a restart
// of Postgres or a network cut) while clients submit: the daemon reconnects at once and writes
// the interrupted batch again, so every submit is answered 201 and stored, and it carries on
// without a restart.
TEST(Postgres, ConnectionsCutUnderLoadLoseNoAcceptedTask) {
  const std::string name = test_database();
  const std::string url = uasyncd::test::pg_test_database(name);
  TempDir dir;
  DaemonProcess daemon(daemon_args(dir.path(), pg_flags(url)), dir / "run.log");
  const std::optional<int> port = daemon.await_port();
  ASSERT_TRUE(port) << daemon.output();
  constexpr int kClients = 4;
  constexpr int kPerClient = 300;
  std::mutex mu;
  std::vector<std::string> acked;
  std::atomic<int> answered{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", *port);
      client.set_read_timeout(30);
      for (int n = 0; n < kPerClient; ++n) {
        std::string name = std::to_string(c);  // not "c" + ...: g++ 12's false -Wrestrict
        name += '-';
        name += std::to_string(n);
        const json spec = {{"name", name}, {"value", n}};
        auto r = client.Post("/api/tasks", spec.dump(), "application/json");
        ++answered;
        if (!r) continue;
        if (r->status == 201) {
          std::lock_guard lock(mu);
          acked.push_back(json::parse(r->body)["id"].get<std::string>());
        } else {
          EXPECT_EQ(r->status, 503) << r->body;
          ++refused;
        }
      }
    });
  }
  // Cut twice, a third and two thirds of the way through.
  for (int cut : {kClients * kPerClient / 3, 2 * kClients * kPerClient / 3}) {
    while (answered < cut)
      std::this_thread::sleep_for(1ms);
    uasyncd::test::pg_test_cut_connections(name);
  }
  for (std::thread& t : clients)
    t.join();
  EXPECT_GT(acked.size(), 0u);
  // Reads reconnect too: every acknowledged task is there, and ends.
  httplib::Client reader("127.0.0.1", *port);
  reader.set_read_timeout(30);
  for (const std::string& id : acked) {
    auto r = reader.Get(("/api/tasks/" + id + "/wait?timeout=10").c_str());
    ASSERT_TRUE(r) << id;
    ASSERT_EQ(r->status, 200) << id << " " << r->body;
    EXPECT_EQ(json::parse(r->body)["state"], "done") << r->body;
  }
  std::map<std::string, json> stored = all_tasks(*port);
  EXPECT_GE(stored.size(), acked.size());
  // A cut costs one reconnect and the batch written again: clients see nothing of it.
  EXPECT_EQ(refused.load(), 0);
  EXPECT_EQ(acked.size(), static_cast<std::size_t>(kClients * kPerClient));
  daemon.signal(SIGTERM);
  const std::optional<int> status = daemon.await_exit(30s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << daemon.output();
}

// While its database refuses connections, the daemon says so on /healthz (503, which fails
// `uasyncd --healthcheck` and so a container's health check) and refuses submits; once the
// database is back, it is healthy again without a restart and nothing was lost.
TEST(Postgres, HealthzFailsWhileTheDatabaseIsUnreachable) {
  const std::string name = test_database();
  const std::string url = uasyncd::test::pg_test_database(name);
  TempDir dir;
  DaemonProcess daemon(daemon_args(dir.path(), pg_flags(url)), dir / "run.log");
  const std::optional<int> port = daemon.await_port();
  ASSERT_TRUE(port) << daemon.output();
  httplib::Client c("127.0.0.1", *port);
  c.set_read_timeout(30);
  auto before = c.Post("/api/tasks", R"({"value": 1})", "application/json");
  ASSERT_TRUE(before);
  ASSERT_EQ(before->status, 201);
  EXPECT_EQ(c.Get("/healthz")->status, 200);

  uasyncd::test::pg_test_admin("ALTER DATABASE " + name + " ALLOW_CONNECTIONS false");
  uasyncd::test::pg_test_cut_connections(name);
  auto down = c.Get("/healthz");
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, 503) << down->body;
  EXPECT_EQ(json::parse(down->body)["error"]["code"], "store_unavailable") << down->body;
  EXPECT_EQ(down->body.find(name), std::string::npos) << "names the database: " << down->body;
  EXPECT_NE(daemon.output().find("does not answer"), std::string::npos) << daemon.output();
  auto refused = c.Post("/api/tasks", R"({"value": 2})", "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503) << refused->body;

  uasyncd::test::pg_test_admin("ALTER DATABASE " + name + " ALLOW_CONNECTIONS true");
  // The writer retries the refused submit's write (every 200 ms): healthy again once it lands.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (c.Get("/healthz")->status != 200 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  auto after = c.Post("/api/tasks?wait=10", R"({"value": 3})", "application/json");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 201) << after->body;
  EXPECT_EQ(json::parse(after->body)["state"], "done") << after->body;
  EXPECT_EQ(c.Get("/healthz")->status, 200);
  const std::string first = json::parse(before->body)["id"].get<std::string>();
  auto kept = c.Get(("/api/tasks/" + first).c_str());
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->status, 200);
}

// /metrics says whether the store can commit and how long its commits take.
TEST(Postgres, MetricsShowTheStoresCommitsAndAvailability) {
  const std::string name = test_database();
  const std::string url = uasyncd::test::pg_test_database(name);
  TempDir dir;
  DaemonProcess daemon(daemon_args(dir.path(), pg_flags(url)), dir / "run.log");
  const std::optional<int> port = daemon.await_port();
  ASSERT_TRUE(port) << daemon.output();
  httplib::Client c("127.0.0.1", *port);
  c.set_read_timeout(30);
  for (int i = 0; i < 3; ++i) {
    auto r = c.Post("/api/tasks?wait=10", R"({"value": 1})", "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
  }
  const std::string up = c.Get("/metrics")->body;
  EXPECT_NE(up.find("uasyncd_store_available 1\n"), std::string::npos) << up;
  const std::size_t at = up.find("uasyncd_store_commit_seconds_count ");
  ASSERT_NE(at, std::string::npos) << up;
  EXPECT_GE(std::stoi(up.substr(at + std::strlen("uasyncd_store_commit_seconds_count "))), 1) << up;
  EXPECT_NE(up.find("uasyncd_store_rows_total "), std::string::npos) << up;

  uasyncd::test::pg_test_admin("ALTER DATABASE " + name + " ALLOW_CONNECTIONS false");
  uasyncd::test::pg_test_cut_connections(name);
  const std::string down = c.Get("/metrics")->body;
  EXPECT_NE(down.find("uasyncd_store_available 0\n"), std::string::npos) << down;
  uasyncd::test::pg_test_admin("ALTER DATABASE " + name + " ALLOW_CONNECTIONS true");
}

TEST(Postgres, AnUnreachableDatabaseIsRefusedNamedWithoutItsPassword) {
  TempDir dir;
  // Port 1 on loopback: nothing listens there.
  DaemonProcess daemon(
      daemon_args(dir.path(), pg_flags("postgresql://someone:s3cr3t-word@127.0.0.1:1/tasks")),
      dir / "run.log");
  const std::optional<int> status = daemon.await_exit(30s);
  ASSERT_TRUE(status) << "started without its database";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) != 0);
  const std::string out = daemon.output();
  EXPECT_NE(out.find("postgres database tasks on 127.0.0.1:1: cannot connect"), std::string::npos)
      << out;
  EXPECT_EQ(out.find("s3cr3t-word"), std::string::npos) << out;
}

TEST(Postgres, EphemeralAndADatabaseExcludeEachOther) {
  TempDir dir;
  DaemonProcess daemon({"--listen", "127.0.0.1:0", "--ephemeral", "--database-url",
                        uasyncd::test::pg_test_url("postgres")},
                       dir / "run.log");
  const std::optional<int> status = daemon.await_exit(30s);
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 2) << daemon.output();
  EXPECT_NE(daemon.output().find("excludes"), std::string::npos) << daemon.output();
}

}  // namespace

// Schedules and queue settings are stored in the database too (schema 2): after kill -9 the next
// daemon has them, and a schedule's count of runs equals the runs stored, its fire and its task
// having been written in one transaction.
TEST(Postgres, SchedulesAndQueuesSurviveKill9) {
  const std::string url = uasyncd::test::pg_test_database(test_database());
  TempDir dir;
  int runs_before = 0;
  {
    DaemonProcess daemon(daemon_args(dir / "a", pg_flags(url)), dir / "a.log");
    const std::optional<int> port = daemon.await_port();
    ASSERT_TRUE(port) << daemon.output();
    httplib::Client c("127.0.0.1", *port);
    c.set_read_timeout(30);
    auto s = c.Post("/api/schedules",
                    R"({"name": "often", "every": 0.05, "overlap": "allow",
                        "spec": {"value": 1}})",
                    "application/json");
    ASSERT_TRUE(s && s->status == 201) << (s ? s->body : "no answer");
    auto q =
        c.Put("/api/queues/builds", R"({"max_running": 3, "paused": true})", "application/json");
    ASSERT_TRUE(q && q->status == 200) << (q ? q->body : "no answer");
    std::this_thread::sleep_for(400ms);
    runs_before = json::parse(c.Get("/api/schedules/often")->body)["runs"].get<int>();
    EXPECT_GE(runs_before, 2);
    daemon.signal(SIGKILL);
    ASSERT_TRUE(daemon.await_exit(10s));
  }
  DaemonProcess daemon(daemon_args(dir / "b", pg_flags(url)), dir / "b.log");
  const std::optional<int> port = daemon.await_port();
  ASSERT_TRUE(port) << daemon.output();
  httplib::Client c("127.0.0.1", *port);
  c.set_read_timeout(30);
  auto paused = c.Post("/api/schedules/often/pause", "", "application/json");
  ASSERT_TRUE(paused && paused->status == 200) << (paused ? paused->body : "no answer");
  const json schedule = json::parse(paused->body);
  // The fires committed before the kill are kept (the last one or two may have been in flight,
  // answered to no one); whatever was kept, runs and tasks agree.
  EXPECT_GE(schedule["runs"].get<int>(), std::min(runs_before, 2));
  const json tasks = json::parse(c.Get("/api/tasks?limit=1000")->body);
  EXPECT_EQ(schedule["runs"], tasks["total"]) << schedule.dump();
  const json builds = json::parse(c.Get("/api/queues/builds")->body);
  EXPECT_EQ(builds["max_running"], 3);
  EXPECT_EQ(builds["paused"], true);
}
