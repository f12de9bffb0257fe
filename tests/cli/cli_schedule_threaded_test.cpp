// `uasyncd schedule ...` run as processes against a real daemon, with its schedules in memory and
// in a database. The daemon keeps the real clock (a virtual one would race through a schedule's
// times), and every schedule here fires at most once a day: runs come from `trigger` alone.
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

constexpr const char* kDaily = "--every";
constexpr const char* kDay = "86400";

class CliSchedule : public ::testing::TestWithParam<Storage> {
 protected:
  static void TearDownTestSuite() { daemons().release(); }
  static SharedDaemons& daemons() {
    static SharedDaemons all({});
    return all;
  }
  TestDaemon& daemon() { return daemons().get(GetParam()); }

  ClientResult cli(std::vector<std::string> args, const std::string& stdin_text = "") {
    ClientProcess::Options options;
    options.env.push_back("UASYNCD_URL=" + daemon().url());
    options.stdin_text = stdin_text;
    return run_client(std::move(args), std::move(options));
  }

  std::string file(const std::string& name, const std::string& text) {
    const std::string path = daemon().dir() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  // A schedule name no other test uses (both storages share nothing, but tests share a daemon).
  std::string unique_name() {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '.');
    return name + "-" + std::to_string(++names_);
  }
  // A schedule made through the API, which fires once a day from now.
  std::string add_daily(const std::string& spec = R"({"value": 1})") {
    const std::string name = unique_name();
    const json r =
        daemon().post("/api/schedules",
                      json({{"name", name}, {"every", 86400}, {"spec", json::parse(spec)}}).dump());
    EXPECT_EQ(r.value("name", ""), name) << r.dump();
    return name;
  }
  json api_schedule(const std::string& name) { return daemon().get("/api/schedules/" + name); }
  // The line of a table that starts with `first` (a name), or "".
  static std::string row(const std::string& table, const std::string& first) {
    std::istringstream in(table);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(first + " ", 0) == 0) return line;
    }
    return "";
  }

  int names_ = 0;
};

TEST_P(CliSchedule, AddPrintsTheRecordAndLsListsIt) {
  const std::string cron = unique_name();
  const ClientResult added = cli({"schedule", "add", cron, "--cron", "0 0 1 1 *", "--timezone",
                                  "Europe/Berlin", file("v.json", R"({"value": 1})")});
  ASSERT_EQ(added.code, 0) << added.err;
  const json record = json::parse(added.out);  // piped: the daemon's record
  EXPECT_EQ(record.at("name"), cron);
  EXPECT_EQ(record.at("cron"), "0 0 1 1 *");
  EXPECT_EQ(record.at("timezone"), "Europe/Berlin");
  EXPECT_EQ(record.at("spec"), json({{"value", 1}}));
  EXPECT_EQ(record.at("overlap"), "skip");
  EXPECT_EQ(record.at("next_fires").size(), 5u);
  EXPECT_EQ(record, api_schedule(cron));

  const std::string every = unique_name();
  const ClientResult table = cli({"schedule", "add", every, "-o", "table", kDaily, kDay,
                                  "--overlap", "queue", "--catch-up", "one", "-"},
                                 R"({"sleep": 1})");
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_EQ(table.out.rfind("added schedule " + every + ": next fire 20", 0), 0u) << table.out;
  const json made = api_schedule(every);
  EXPECT_EQ(made.at("every"), 86400.0);
  EXPECT_EQ(made.at("overlap"), "queue");
  EXPECT_EQ(made.at("catch_up"), "one");
  EXPECT_EQ(made.at("paused"), false);

  const ClientResult piped = cli({"schedule", "ls"});
  ASSERT_EQ(piped.code, 0) << piped.err;
  EXPECT_EQ(json::parse(piped.out), daemon().get("/api/schedules").at("schedules"));
  const ClientResult listed = cli({"schedule", "ls", "-o", "table"});
  ASSERT_EQ(listed.code, 0) << listed.err;
  EXPECT_EQ(listed.out.rfind("NAME ", 0), 0u) << listed.out;
  const std::string cron_row = row(listed.out, cron);
  EXPECT_NE(cron_row.find("  0 0 1 1 * (Europe/Berlin)  "), std::string::npos) << listed.out;
  // No run yet, not paused.
  EXPECT_TRUE(std::regex_search(cron_row, std::regex("  -  +no$"))) << cron_row;
  EXPECT_NE(row(listed.out, every).find("  every 86400s  "), std::string::npos) << listed.out;
  const ClientResult names = cli({"schedule", "ls", "-q"});
  EXPECT_NE(names.out.find("\n" + every + "\n"), std::string::npos) << names.out;
  const ClientResult lines = cli({"schedule", "ls", "-o", "jsonl"});
  EXPECT_EQ(std::count(lines.out.begin(), lines.out.end(), '\n'),
            static_cast<long>(daemon().get("/api/schedules").at("schedules").size()));
}

TEST_P(CliSchedule, AddRefusalsAreTheDaemonsNamingTheField) {
  const std::string spec = file("v.json", R"({"value": 1})");
  const ClientResult cron = cli({"schedule", "add", unique_name(), "--cron", "61 * * * *", spec});
  EXPECT_EQ(cron.code, 3);
  EXPECT_EQ(cron.err, "uasyncd: $.cron: minute field: 61 is out of range 0-59\n");
  const ClientResult zone = cli(
      {"schedule", "add", unique_name(), "--cron", "@daily", "--timezone", "Mars/Olympus", spec});
  EXPECT_EQ(zone.code, 3);
  EXPECT_NE(zone.err.find("$.timezone: unknown time zone \"Mars/Olympus\""), std::string::npos)
      << zone.err;
  const ClientResult delayed =
      cli({"schedule", "add", unique_name(), kDaily, kDay, "-"}, R"({"value": 1, "delay": 5})");
  EXPECT_EQ(delayed.code, 3);
  EXPECT_NE(delayed.err.find("$.spec.delay"), std::string::npos) << delayed.err;
  const ClientResult bad_spec =
      cli({"schedule", "add", unique_name(), kDaily, kDay, "-"}, R"({"sleep": -1})");
  EXPECT_EQ(bad_spec.code, 3);
  EXPECT_EQ(bad_spec.err, "uasyncd: $.spec.sleep: must not be negative\n");

  const std::string name = add_daily();
  const ClientResult again = cli({"schedule", "add", name, kDaily, kDay, spec});
  EXPECT_EQ(again.code, 3);
  EXPECT_EQ(again.err, "uasyncd: a schedule named " + name + " exists already (delete it first)\n");
  EXPECT_EQ(again.out, "");
}

TEST_P(CliSchedule, ShowPrintsOneFieldALineAndTheRecordWhenPiped) {
  const std::string name = unique_name();
  ASSERT_EQ(
      cli({"schedule", "add", name, "--cron", "30 2 * * *", "--timezone", "Asia/Kolkata", "-"},
          R"({"value": 2})")
          .code,
      0);
  const ClientResult table = cli({"schedule", "show", "-o", "table", name});
  ASSERT_EQ(table.code, 0) << table.err;
  for (const std::string& line :
       {"name        " + name + "\n", std::string("cron        30 2 * * *\n"),
        std::string("timezone    Asia/Kolkata\n"), std::string("paused      no\n"),
        std::string("\nnext fires  20"), std::string("last run    -\n"),
        std::string("runs        0\n"), std::string("spec        {\"value\":2}\n")}) {
    EXPECT_NE(table.out.find(line), std::string::npos) << line << "\n" << table.out;
  }
  const ClientResult piped = cli({"schedule", "show", name});
  ASSERT_EQ(piped.code, 0) << piped.err;
  EXPECT_EQ(json::parse(piped.out), api_schedule(name));

  const ClientResult unknown = cli({"schedule", "show", "no-such-schedule"});
  EXPECT_EQ(unknown.code, 3);
  EXPECT_EQ(unknown.err, "uasyncd: no schedule named no-such-schedule\n");
}

TEST_P(CliSchedule, PauseAndResume) {
  const std::string name = add_daily();
  const ClientResult paused = cli({"schedule", "pause", "-o", "table", name});
  ASSERT_EQ(paused.code, 0) << paused.err;
  EXPECT_EQ(paused.out, "paused schedule " + name + "\n");
  EXPECT_EQ(api_schedule(name).at("paused"), true);
  EXPECT_EQ(api_schedule(name).at("next_fires"), json::array());
  const ClientResult listed = cli({"schedule", "ls", "-o", "table"});
  const std::string line = row(listed.out, name);
  EXPECT_EQ(line.substr(line.size() - 3), "yes") << listed.out;
  EXPECT_NE(line.find("  -  "), std::string::npos) << line;  // no next fire

  const ClientResult resumed = cli({"schedule", "resume", name});  // piped: the record
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_EQ(json::parse(resumed.out).at("paused"), false);
  EXPECT_EQ(api_schedule(name).at("next_fires").size(), 5u);
  const ClientResult table = cli({"schedule", "resume", "-o", "table", name});  // already: fine
  EXPECT_EQ(table.out.rfind("resumed schedule " + name + ": next fire 20", 0), 0u) << table.out;

  const ClientResult added_paused =
      cli({"schedule", "add", unique_name(), kDaily, kDay, "--paused", "-o", "table", "-"},
          R"({"value": 1})");
  ASSERT_EQ(added_paused.code, 0) << added_paused.err;
  EXPECT_NE(added_paused.out.find(": paused\n"), std::string::npos) << added_paused.out;
}

TEST_P(CliSchedule, TriggerSubmitsARunThatNamesItsSchedule) {
  const std::string name = add_daily(R"({"name": "nightly-build", "value": 7})");
  const ClientResult table = cli({"schedule", "trigger", "-o", "table", name});
  ASSERT_EQ(table.code, 0) << table.err;
  ASSERT_EQ(table.out.front(), 't');
  const std::string id = table.out.substr(0, table.out.size() - 1);
  const json task = daemon().get("/api/tasks/" + id + "/wait?timeout=20");
  EXPECT_EQ(task.at("schedule"), name);
  EXPECT_EQ(task.at("name"), "nightly-build");
  EXPECT_EQ(task.at("result"), 7);
  const json schedule = api_schedule(name);
  EXPECT_EQ(schedule.at("last_run").at("id"), id);
  EXPECT_EQ(schedule.at("runs"), 1);
  const ClientResult show = cli({"schedule", "show", "-o", "table", name});
  EXPECT_NE(show.out.find("last run    " + id + " done\n"), std::string::npos) << show.out;
  EXPECT_NE(row(cli({"schedule", "ls", "-o", "table"}).out, name).find("  " + id + " done  "),
            std::string::npos);

  const ClientResult quiet = cli({"schedule", "trigger", "-q", name});
  ASSERT_EQ(quiet.code, 0) << quiet.err;
  EXPECT_EQ(quiet.out.find('\n'), quiet.out.size() - 1) << quiet.out;  // the id alone
  const ClientResult piped = cli({"schedule", "trigger", name});
  ASSERT_EQ(piped.code, 0) << piped.err;
  const json record = json::parse(piped.out);
  EXPECT_EQ(record.at("schedule"), name);
  EXPECT_EQ(daemon().get("/api/tasks/" + record.at("id").get<std::string>()).at("schedule"), name);

  const ClientResult unknown = cli({"schedule", "trigger", "no-such-schedule"});
  EXPECT_EQ(unknown.code, 3);
  EXPECT_EQ(unknown.err, "uasyncd: no schedule named no-such-schedule\n");
}

TEST_P(CliSchedule, RmDeletesTheScheduleAndKeepsItsRuns) {
  const std::string name = add_daily();
  const ClientResult triggered = cli({"schedule", "trigger", "-q", name});
  ASSERT_EQ(triggered.code, 0) << triggered.err;
  const std::string id = triggered.out.substr(0, triggered.out.size() - 1);
  const ClientResult removed = cli({"schedule", "rm", "-o", "table", name});
  ASSERT_EQ(removed.code, 0) << removed.err;
  EXPECT_EQ(removed.out, "deleted schedule " + name + "\n");
  EXPECT_EQ(api_schedule(name).at("error").at("code"), "not_found");
  EXPECT_EQ(daemon().get("/api/tasks/" + id).at("schedule"), name);

  // Several: one the daemon does not know is reported, the others still go.
  const std::string a = add_daily();
  const std::string b = add_daily();
  const ClientResult several = cli({"schedule", "rm", a, "no-such-schedule", b});
  EXPECT_EQ(several.code, 3);
  EXPECT_EQ(several.err, "uasyncd: no schedule named no-such-schedule\n");
  EXPECT_EQ(json::parse(several.out).size(), 2u);  // piped: the two deleted records
  EXPECT_EQ(api_schedule(a).at("error").at("code"), "not_found");
  EXPECT_EQ(api_schedule(b).at("error").at("code"), "not_found");
}

INSTANTIATE_TEST_SUITE_P(Storage, CliSchedule,
                         ::testing::Values(Storage::ephemeral, Storage::durable), storage_label);

TEST(CliScheduleToken, TheCommandsSendTheToken) {
  TestDaemon daemon(Storage::ephemeral, {"--token", "s3cret"});
  const ClientResult refused = run_client({"schedule", "ls", "--url", daemon.url()});
  EXPECT_EQ(refused.code, 3);
  EXPECT_EQ(refused.err,
            "uasyncd: a valid bearer token is required (set --token or UASYNCD_TOKEN)\n");
  ClientProcess::Options env;
  env.env = {"UASYNCD_URL=" + daemon.url(), "UASYNCD_TOKEN=s3cret"};
  env.stdin_text = R"({"value": 1})";
  EXPECT_EQ(run_client({"schedule", "add", "tok", "--every", "86400", "-"}, env).code, 0);
  EXPECT_EQ(run_client({"schedule", "trigger", "tok"}, env).code, 0);
  EXPECT_EQ(run_client({"schedule", "rm", "tok"}, env).code, 0);
}

}  // namespace
