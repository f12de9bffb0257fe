// `uasyncd queue ls|set`, and `--queue` of submit and run, run as processes against a real daemon,
// with its tasks and queue settings in memory and in a database.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "client_process.hpp"
#include "test_daemon.hpp"

namespace {

using json = nlohmann::json;

class CliQueue : public ::testing::TestWithParam<Storage> {
 protected:
  static void TearDownTestSuite() { daemons().release(); }
  static SharedDaemons& daemons() {
    static SharedDaemons all({"--allow-exec", "--virtual-clock"});
    return all;
  }
  TestDaemon& daemon() { return daemons().get(GetParam()); }

  ClientResult cli(std::vector<std::string> args, const std::string& stdin_text = "") {
    ClientProcess::Options options;
    options.env.push_back("UASYNCD_URL=" + daemon().url());
    options.stdin_text = stdin_text;
    return run_client(std::move(args), std::move(options));
  }
  // A queue (or task) name no other test uses: tests share a daemon.
  std::string unique_name() {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '.');
    return name + "-" + std::to_string(++names_);
  }
  // The queue's record in GET /api/queues, or null.
  json api_queue(const std::string& name) {
    const json all = daemon().get("/api/queues");
    for (const json& q : all.at("queues")) {
      if (q.at("name") == name) return q;
    }
    return nullptr;
  }
  static std::string id_of(const ClientResult& r) { return r.out.substr(0, r.out.find('\n')); }

  int names_ = 0;
};

TEST_P(CliQueue, SetPrintsTheQueueAndLsListsIt) {
  const std::string name = unique_name();
  const ClientResult set =
      cli({"queue", "set", name, "--max-running", "3", "--pause", "-o", "table"});
  ASSERT_EQ(set.code, 0) << set.err;
  EXPECT_EQ(set.out.rfind("NAME ", 0), 0u) << set.out;
  EXPECT_TRUE(
      std::regex_search(set.out, std::regex("\n" + name + "  +3  +yes  +0  +0  +0  +0.00\n")))
      << set.out;
  json q = api_queue(name);
  EXPECT_EQ(q.at("max_running"), 3);
  EXPECT_EQ(q.at("paused"), true);

  // Each flag alone changes only its own setting.
  const ClientResult resumed = cli({"queue", "set", name, "--resume"});  // piped: the record
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_EQ(json::parse(resumed.out), api_queue(name));
  q = api_queue(name);
  EXPECT_EQ(q.at("max_running"), 3);
  EXPECT_EQ(q.at("paused"), false);
  ASSERT_EQ(cli({"queue", "set", name, "--max-running", "0"}).code, 0);
  EXPECT_EQ(api_queue(name).at("max_running"), 0);
  EXPECT_EQ(api_queue(name).at("paused"), false);

  const ClientResult piped = cli({"queue", "ls"});
  ASSERT_EQ(piped.code, 0) << piped.err;
  EXPECT_EQ(json::parse(piped.out), daemon().get("/api/queues").at("queues"));
  const ClientResult table = cli({"queue", "ls", "-o", "table"});
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_EQ(table.out.rfind("NAME ", 0), 0u) << table.out;
  EXPECT_TRUE(std::regex_search(table.out, std::regex("\n" + name + "  +no limit  +no  ")))
      << table.out;
  EXPECT_TRUE(std::regex_search(table.out, std::regex("\ndefault  ")))
      << table.out;  // always there
  const ClientResult names = cli({"queue", "ls", "-q"});
  EXPECT_NE(names.out.find(name + "\n"), std::string::npos) << names.out;
  const ClientResult lines = cli({"queue", "ls", "-o", "jsonl"});
  EXPECT_EQ(std::count(lines.out.begin(), lines.out.end(), '\n'),
            static_cast<long>(daemon().get("/api/queues").at("queues").size()));
}

TEST_P(CliQueue, QueueFlagSetsTheRootKey) {
  const std::string queue = unique_name();
  const ClientResult r =
      cli({"submit", "-q", "--queue", queue, "-"}, R"({"value": 1, "queue": "x"})");
  ASSERT_EQ(r.code, 0) << r.err;
  const json task = daemon().get("/api/tasks/" + id_of(r));
  EXPECT_EQ(task.at("spec"), json({{"value", 1}, {"queue", queue}}));
  EXPECT_EQ(task.at("queue"), queue);
  EXPECT_EQ(cli({"submit", "--queue", "no good", "-"}, R"({"value": 1})").code, 2);

  const std::string name = unique_name();
  const ClientResult ran = cli({"run", "--name", name, "--queue", queue, "--", "true"});
  ASSERT_EQ(ran.code, 0) << ran.err;
  const json tasks = daemon().get("/api/tasks?name=" + name).at("tasks");
  ASSERT_EQ(tasks.size(), 1u);
  const json task_ran = daemon().get("/api/tasks/" + tasks.at(0).at("id").get<std::string>());
  EXPECT_EQ(task_ran.at("spec").at("queue"), queue);
}

TEST_P(CliQueue, APausedQueueHoldsItsTasksUntilResumed) {
  const std::string queue = unique_name();
  ASSERT_EQ(cli({"queue", "set", queue, "--pause"}).code, 0);
  const ClientResult held = cli({"submit", "-q", "--queue", queue, "-"}, R"({"value": 5})");
  ASSERT_EQ(held.code, 0) << held.err;
  const std::string id = id_of(held);
  const ClientResult waited = cli({"wait", "--timeout", "0.3", id});
  EXPECT_EQ(waited.code, 124);
  EXPECT_EQ(json::parse(waited.out).at("state"), "pending");
  EXPECT_EQ(api_queue(queue).at("pending"), 1);

  ASSERT_EQ(cli({"queue", "set", queue, "--resume"}).code, 0);
  EXPECT_EQ(cli({"wait", id}).code, 0);
  EXPECT_EQ(api_queue(queue).at("pending"), 0);
}

TEST_P(CliQueue, TheLongestNameAndTheHighestLimitAreTheDaemonsToo) {
  // The client checks both before sending: its bounds must not be narrower than the daemon's.
  const std::string name(128, 'q');
  const ClientResult r = cli({"queue", "set", name, "--max-running", "1000000"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(api_queue(name).at("max_running"), 1000000);
}

INSTANTIATE_TEST_SUITE_P(Storage, CliQueue, ::testing::Values(Storage::ephemeral, Storage::durable),
                         storage_label);

}  // namespace
