// `uasyncd run` and the client at a terminal, against a daemon on the real clock: timeouts that
// must take their real time, Ctrl-C sent to the client process, and a pseudo-terminal to see
// progress and colours as a person would.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "client_process.hpp"
#include "test_daemon.hpp"

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

class CliRun : public ::testing::TestWithParam<Storage> {
 protected:
  static void TearDownTestSuite() { daemons().release(); }
  static SharedDaemons& daemons() {
    static SharedDaemons all({"--allow-exec", "--exec-kill-grace", "3"});
    return all;
  }
  TestDaemon& daemon() { return daemons().get(GetParam()); }
  ClientProcess::Options env(bool terminal = false) {
    ClientProcess::Options o;
    o.env.push_back("UASYNCD_URL=" + daemon().url());
    o.terminal = terminal;
    return o;
  }
  // The id the client named in "cancelling tN".
  static std::string cancelled_id(const std::string& err) {
    std::smatch m;
    static const std::regex cancelling(R"(cancelling (t\d+))");
    return std::regex_search(err, m, cancelling) ? m[1].str() : "";
  }
};

TEST_P(CliRun, ATimeoutExits124WithinTwoSeconds) {
  const ClientResult r = run_client({"run", "--timeout", "1", "--", "sleep", "5"}, env());
  EXPECT_EQ(r.code, 124) << r.err;
  EXPECT_GE(r.elapsed, 1s);
  EXPECT_LT(r.elapsed, 2s);
  EXPECT_NE(r.err.find("timed out"), std::string::npos) << r.err;
}

TEST_P(CliRun, CtrlCCancelsTheTaskAndExits130) {
  ClientProcess client({"run", "--", "sh", "-c", "echo started; exec sleep 30"}, env());
  ASSERT_TRUE(client.read_until_out("started\n", 10s)) << client.err();
  const auto start = ClientProcess::Clock::now();
  client.signal(SIGINT);
  EXPECT_EQ(client.finish(10s), 130) << client.err();
  EXPECT_LT(ClientProcess::Clock::now() - start, 3s);
  const std::string id = cancelled_id(client.err());
  ASSERT_NE(id, "") << client.err();
  EXPECT_EQ(daemon().get("/api/tasks/" + id).at("state"), "cancelled");
  EXPECT_NE(client.err().find(id + " was cancelled"), std::string::npos) << client.err();
}

TEST_P(CliRun, ASecondCtrlCDetachesAndLeavesTheTaskToEnd) {
  // The command ignores SIGTERM, so its task stays running through the 3 s kill grace.
  ClientProcess client({"run", "--", "sh", "-c", "trap '' TERM; echo started; sleep 30 & wait"},
                       env());
  ASSERT_TRUE(client.read_until_out("started\n", 10s)) << client.err();
  client.signal(SIGINT);
  ASSERT_TRUE(client.read_until([&] { return !cancelled_id(client.err()).empty(); }, 10s));
  const auto start = ClientProcess::Clock::now();
  client.signal(SIGINT);
  EXPECT_EQ(client.finish(10s), 130) << client.err();
  EXPECT_LT(ClientProcess::Clock::now() - start, 2s);
  EXPECT_NE(client.err().find("detached"), std::string::npos) << client.err();
  const std::string id = cancelled_id(client.err());
  EXPECT_EQ(daemon().get("/api/tasks/" + id).at("state"), "running");
  // The cancel goes on without the client: SIGKILL after the grace ends it.
  EXPECT_EQ(daemon().get("/api/tasks/" + id + "/wait?timeout=20").at("state"), "cancelled");
}

TEST_P(CliRun, ExitCodesOfACommandThatWasKilledOrNotFound) {
  EXPECT_EQ(run_client({"run", "--", "sh", "-c", "kill -9 $$"}, env()).code, 128 + 9);
  const ClientResult missing = run_client({"run", "--", "no-such-command-here"}, env());
  EXPECT_EQ(missing.code, 127);
  EXPECT_NE(missing.err.find("no-such-command-here"), std::string::npos) << missing.err;
  EXPECT_EQ(run_client({"run", "--", "true"}, env()).code, 0);
}

TEST_P(CliRun, EnvAndCwdReachTheCommand) {
  const ClientResult r = run_client({"run", "--env", "GREETING=hi there", "--cwd", "/tmp", "--",
                                     "sh", "-c", "echo $GREETING; pwd"},
                                    env());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "hi there\n/tmp\n");
}

TEST_P(CliRun, OutputArrivesWhileTheCommandRuns) {
  ClientProcess client({"run", "--", "sh", "-c", "echo first; sleep 1; echo second"}, env());
  ASSERT_TRUE(client.read_until_out("first\n", 5s)) << client.err();
  EXPECT_EQ(client.out(), "first\n");  // before the command has ended
  EXPECT_EQ(client.finish(10s), 0);
  EXPECT_EQ(client.out(), "first\nsecond\n");
}

TEST_P(CliRun, SubmitFollowStreamsOutputAndStepTransitions) {
  ClientProcess::Options o = env();
  o.stdin_text = R"({"name": "followed", "sequence": [{"exec": ["sh", "-c", "echo built"]},
                    {"fail": "tests broke"}]})";
  ClientProcess client({"submit", "--follow", "-o", "table"}, o);
  EXPECT_EQ(client.finish(10s), 1);
  EXPECT_EQ(client.out().substr(0, 6), "built\n") << client.out();
  EXPECT_NE(client.out().find(" failed"), std::string::npos) << client.out();
  EXPECT_NE(client.out().find("error: Exception: tests broke"), std::string::npos) << client.out();
  for (const char* line : {".1 exec done", ".2 fail failed", " sequence followed started"}) {
    EXPECT_NE(client.err().find(line), std::string::npos) << line << "\n" << client.err();
  }
}

TEST_P(CliRun, SubmitFollowAsJsonLinesIsMachineReadable) {
  ClientProcess::Options o = env();
  o.stdin_text = R"({"exec": ["sh", "-c", "echo out; echo err >&2"]})";
  ClientProcess client({"submit", "--follow", "-o", "jsonl"}, o);
  EXPECT_EQ(client.finish(10s), 0) << client.err();
  std::istringstream in(client.out());
  std::vector<json> lines;
  for (std::string line; std::getline(in, line);)
    lines.push_back(json::parse(line));
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines.back().at("state"), "done");  // the final record last
  int outputs = 0;
  for (const json& l : lines)
    outputs += l.value("type", "") == "output";
  EXPECT_EQ(outputs, 2);
}

TEST_P(CliRun, AtATerminalProgressAndColoursShowAndPipedTheyDoNot) {
  const std::string spec = R"({"sequence": [{"sleep": 0.4}, {"value": 1}]})";
  ClientProcess::Options tty = env(true);
  tty.stdin_text = spec;
  // stdin is a pipe, so "-" is allowed; stdout and stderr are the terminal.
  ClientProcess at_terminal({"submit", "--wait", "-"}, tty);
  EXPECT_EQ(at_terminal.finish(10s), 0);
  EXPECT_NE(at_terminal.out().find(" running · 0/3 steps · "), std::string::npos)
      << at_terminal.out();
  EXPECT_NE(at_terminal.out().find("\x1b[32mdone\x1b[0m"), std::string::npos) << at_terminal.out();

  ClientProcess::Options no_color = env(true);
  no_color.env.push_back("NO_COLOR=1");
  ClientProcess plain({"ls", "--limit", "1"}, no_color);
  EXPECT_EQ(plain.finish(10s), 0);
  EXPECT_EQ(plain.out().rfind("ID ", 0), 0u) << plain.out();  // a table at a terminal
  EXPECT_EQ(plain.out().find('\x1b'), std::string::npos) << plain.out();

  ClientProcess::Options piped = env();
  piped.stdin_text = spec;
  ClientProcess in_pipe({"submit", "--wait", "-"}, piped);
  EXPECT_EQ(in_pipe.finish(10s), 0);
  EXPECT_EQ(in_pipe.err(), "");
  EXPECT_EQ(in_pipe.out().find('\x1b'), std::string::npos);
  EXPECT_EQ(json::parse(in_pipe.out()).at("result"), 1);
}

INSTANTIATE_TEST_SUITE_P(Storage, CliRun, ::testing::Values(Storage::ephemeral, Storage::durable),
                         storage_label);

}  // namespace
