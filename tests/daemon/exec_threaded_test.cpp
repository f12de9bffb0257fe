// Exec steps over HTTP: output capture, exit codes, spawn errors, and cancellation taking the
// whole process tree down; GET .../output and its live SSE form.
#include <stdlib.h>

#include <algorithm>
#include <string>

#include "daemon_fixture.hpp"

namespace srv = uasyncd::server;
using nlohmann::json;

namespace {

class Exec : public DaemonTest {
 protected:
  void SetUp() override {
    srv::DaemonOptions o;
    o.allow_exec = true;
    o.shutdown_grace = 3;
    o.exec_kill_grace = 0.3;
    start(o);
  }
  // The pid a step printed as the first line of its stdout.
  int printed_pid(const std::string& id) {
    Result r = poll("/api/tasks/" + id + "/output", [](const json& b) {
      return !b["steps"].empty() && b["steps"][0].contains("stdout") &&
             b["steps"][0]["stdout"].get<std::string>().find('\n') != std::string::npos;
    });
    return std::stoi(r.body["steps"][0]["stdout"].get<std::string>());
  }
};

// "sh -c 'sleep 100 & echo $!; wait'": a grandchild the cancel must reach through the group.
constexpr const char* kTreeSpec =
    R"({"exec": ["sh", "-c", "sleep 100 & echo $!; wait"], "name": "tree"})";

}  // namespace

TEST_F(Exec, CapturesOutputAndExitCode) {
  const std::string id = submit(R"({"exec": ["sh", "-c", "echo out; echo err >&2"]})");
  Result r = wait(id);
  ASSERT_EQ(r.body["state"], "done") << r.body.dump();
  EXPECT_EQ(r.body["result"]["exit_code"], 0);
  EXPECT_EQ(r.body["result"]["stdout"], "out\n");
  EXPECT_EQ(r.body["result"]["stderr"], "err\n");
  EXPECT_EQ(r.body["result"]["stdout_truncated"], false);
  Result out = get("/api/tasks/" + id + "/output");
  ASSERT_EQ(out.status, 200);
  ASSERT_EQ(out.body["steps"].size(), 1u);
  EXPECT_EQ(out.body["steps"][0]["id"], id + ".0");
  EXPECT_EQ(out.body["steps"][0]["stdout"], "out\n");
  EXPECT_EQ(out.body["steps"][0]["stderr_bytes"], 4);
  EXPECT_EQ(out.body["steps"][0]["argv"][0], "sh");
}

TEST_F(Exec, NonZeroExitFailsTheStepAndKeepsItsOutput) {
  const std::string id = submit(R"({"sequence": [{"exec": ["sh", "-c", "echo why >&2; exit 3"]},
                                                 {"value": "not reached"}]})");
  Result r = wait(id);
  EXPECT_EQ(r.body["state"], "failed");
  EXPECT_NE(r.body["error"]["message"].get<std::string>().find("exited with status 3"),
            std::string::npos)
      << r.body.dump();
  const json& exec_step = r.body["steps"]["steps"][0];
  EXPECT_EQ(exec_step["state"], "failed");
  EXPECT_EQ(exec_step["result"]["exit_code"], 3);
  EXPECT_EQ(exec_step["result"]["stderr"], "why\n");
  EXPECT_EQ(r.body["steps"]["steps"][1]["state"], "pending");
}

TEST_F(Exec, MissingProgramFailsWithAClearError) {
  Result r = wait(submit(R"({"exec": ["/no/such/program", "x"]})"));
  EXPECT_EQ(r.body["state"], "failed");
  const std::string message = r.body["error"]["message"].get<std::string>();
  EXPECT_NE(message.find("/no/such/program"), std::string::npos) << message;
  EXPECT_NE(message.find("no such file"), std::string::npos) << message;
}

TEST_F(Exec, RunsInCwdWithExtraEnvironment) {
  Result r = wait(submit(
      R"({"exec": ["sh", "-c", "pwd; echo $UASYNCD_TEST_VAR"], "cwd": "/tmp",
          "env": {"UASYNCD_TEST_VAR": "ünï"}})"));
  ASSERT_EQ(r.body["state"], "done") << r.body.dump();
  EXPECT_EQ(r.body["result"]["stdout"], "/tmp\nünï\n");
}

// The daemon's environment holds its secrets (UASYNCD_TOKEN, database passwords): a child gets
// only the documented allow-list and its spec's env.
TEST_F(Exec, ChildrenGetACleanEnvironment) {
  ::setenv("UASYNCD_TOKEN", "leak-me", 1);
  ::setenv("SECRET_DB_PASSWORD", "hunter2", 1);
  ::setenv("LANG", "C.UTF-8", 1);
  Result r = wait(submit(R"({"exec": ["env"], "env": {"MINE": "1"}})"));
  ::unsetenv("UASYNCD_TOKEN");
  ::unsetenv("SECRET_DB_PASSWORD");
  ASSERT_EQ(r.body["state"], "done") << r.body.dump();
  const std::string env = r.body["result"]["stdout"].get<std::string>();
  EXPECT_EQ(env.find("leak-me"), std::string::npos) << env;
  EXPECT_EQ(env.find("UASYNCD_"), std::string::npos) << env;
  EXPECT_EQ(env.find("hunter2"), std::string::npos) << env;
  EXPECT_TRUE(env.rfind("PATH=", 0) == 0 || env.find("\nPATH=") != std::string::npos) << env;
  EXPECT_NE(env.find("LANG=C.UTF-8"), std::string::npos) << env;
  EXPECT_NE(env.find("MINE=1"), std::string::npos) << env;
}

TEST_F(Exec, OutputPastTheCapIsTruncated) {
  // 1 MiB + 100 KB of 'y' lines: the first MiB is kept, all of it is counted.
  const std::string id = submit(R"({"exec": ["sh", "-c", "yes | head -c 1150000"]})");
  Result r = wait(id);
  ASSERT_EQ(r.body["state"], "done") << r.body.dump().substr(0, 300);
  EXPECT_EQ(r.body["result"]["stdout_truncated"], true);
  EXPECT_EQ(r.body["result"]["stdout"].get<std::string>().size(), 4096u);  // the tail
  Result out = get("/api/tasks/" + id + "/output");
  EXPECT_EQ(out.body["steps"][0]["stdout_bytes"], 1150000);
  EXPECT_EQ(out.body["steps"][0]["stdout"].get<std::string>().size(), 1u << 20);
  EXPECT_EQ(out.body["steps"][0]["stdout_truncated"], true);
}

TEST_F(Exec, CancellingTheTaskKillsTheProcessTree) {
  const std::string id = submit(kTreeSpec);
  const int grandchild = printed_pid(id);
  ASSERT_GT(grandchild, 0);
  const int child = get("/api/tasks/" + id + "/output").body["steps"][0]["pid"].get<int>();
  EXPECT_EQ(post("/api/tasks/" + id + "/cancel", "").status, 202);
  EXPECT_EQ(wait(id).body["state"], "cancelled");
  EXPECT_TRUE(process_gone(grandchild));
  EXPECT_TRUE(process_gone(child));
  Result out = get("/api/tasks/" + id + "/output");
  EXPECT_EQ(out.body["steps"][0]["running"], false);
  EXPECT_EQ(out.body["steps"][0]["signal"], SIGTERM);
}

TEST_F(Exec, CancellingTheStepByIdKillsItsTree) {
  const std::string id =
      submit(R"({"gather": [{"exec": ["sh", "-c", "sleep 100 & echo $!; wait"]}, {"value": 7}],
                 "return_exceptions": true})");
  Result out = poll("/api/tasks/" + id + "/output", [](const json& b) {
    return b["steps"][0].value("stdout", "").find('\n') != std::string::npos;
  });
  const int grandchild = std::stoi(out.body["steps"][0]["stdout"].get<std::string>());
  EXPECT_EQ(post("/api/tasks/" + id + ".1/cancel", "").status, 202);
  Result r = wait(id);
  EXPECT_EQ(r.body["state"], "done");
  EXPECT_EQ(r.body["result"][0]["error"]["type"], "CancelledError");
  EXPECT_EQ(r.body["result"][1], 7);
  EXPECT_TRUE(process_gone(grandchild));
}

TEST_F(Exec, WaitForTimeoutKillsTheTree) {
  const std::string id = submit(
      R"({"wait_for": {"exec": ["sh", "-c", "sleep 100 & echo $!; wait"]}, "timeout": 0.5})");
  Result out = poll("/api/tasks/" + id + "/output", [](const json& b) {
    return b["steps"][0].value("stdout", "").find('\n') != std::string::npos;
  });
  const int grandchild = std::stoi(out.body["steps"][0]["stdout"].get<std::string>());
  EXPECT_EQ(wait(id).body["state"], "timed_out");
  EXPECT_TRUE(process_gone(grandchild));
}

TEST_F(Exec, AChildIgnoringSigtermIsKilledAfterTheGrace) {
  const std::string id =
      submit(R"({"exec": ["sh", "-c", "trap '' TERM; echo $$; while :; do sleep 0.05; done"]})");
  const int child = printed_pid(id);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(post("/api/tasks/" + id + "/cancel", "").status, 202);
  EXPECT_EQ(wait(id).body["state"], "cancelled");
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, std::chrono::milliseconds(250));  // the grace: 0.3 s
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_TRUE(process_gone(child));
  EXPECT_EQ(get("/api/tasks/" + id + "/output").body["steps"][0]["signal"], SIGKILL);
}

TEST_F(Exec, RootTimeoutKillsTheTree) {
  const std::string id =
      submit(R"({"exec": ["sh", "-c", "sleep 100 & echo $!; wait"], "timeout": 0.5})");
  const int grandchild = printed_pid(id);
  EXPECT_EQ(wait(id).body["state"], "timed_out");
  EXPECT_TRUE(process_gone(grandchild));
}

TEST_F(Exec, ShutdownKillsTheTree) {
  const std::string id = submit(kTreeSpec);
  const int grandchild = printed_pid(id);
  client_.reset();
  daemon_->stop();
  EXPECT_TRUE(process_gone(grandchild));
}

TEST_F(Exec, OutputOfUnknownOrNonExecIds) {
  const std::string id = submit(R"({"sequence": [{"value": 1}]})");
  wait(id);
  EXPECT_EQ(get("/api/tasks/t999/output").status, 404);
  EXPECT_EQ(get("/api/tasks/" + id + ".1/output").status, 400);
  Result none = get("/api/tasks/" + id + "/output");
  EXPECT_EQ(none.status, 200);
  EXPECT_TRUE(none.body["steps"].empty());
}

TEST_F(Exec, FollowStreamsOutputAsItArrivesThenEnds) {
  const std::string id = submit(R"({"exec": ["sh", "-c", "echo one; sleep 0.5; echo two"]})");
  SseReader reader(daemon_->port(), "/api/tasks/" + id + "/output?follow=1",
                   [](const std::string&) { return false; });
  reader.join();  // the stream ends by itself with the task
  EXPECT_EQ(reader.status(), 200);
  EXPECT_EQ(reader.content_type(), "text/event-stream");
  std::vector<SseEvent> events = parse_sse(reader.text());
  std::string stdout_text;
  for (const SseEvent& e : events) {
    if (e.event == "output") {
      EXPECT_EQ(e.data["step"], id + ".0");
      stdout_text += e.data["data"].get<std::string>();
    }
  }
  EXPECT_EQ(stdout_text, "one\ntwo\n");
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().event, "end");
  EXPECT_EQ(events.back().data["state"], "done");
  // Live: "one" came well before the end, not all at once when the task finished.
  std::vector<SseReader::Chunk> chunks = reader.chunks();
  auto one = std::find_if(chunks.begin(), chunks.end(), [](const SseReader::Chunk& c) {
    return c.text.find("one\\n") != std::string::npos;
  });
  ASSERT_NE(one, chunks.end());
  EXPECT_GE(chunks.back().at - one->at, std::chrono::milliseconds(300));
}

TEST_F(Exec, FollowAfterTheEndReplaysTheOutput) {
  const std::string id = submit(R"({"exec": ["sh", "-c", "echo done-already"]})");
  wait(id);
  SseReader reader(daemon_->port(), "/api/tasks/" + id + "/output?follow=1",
                   [](const std::string&) { return false; });
  reader.join();
  std::vector<SseEvent> events = parse_sse(reader.text());
  ASSERT_EQ(events.size(), 2u) << reader.text();
  EXPECT_EQ(events[0].data["data"], "done-already\n");
  EXPECT_EQ(events[1].event, "end");
}

TEST_F(Exec, FollowOfAnUnknownTaskIs404) {
  SseReader reader(daemon_->port(), "/api/tasks/t404/output?follow=1",
                   [](const std::string&) { return false; });
  reader.join();
  EXPECT_EQ(reader.status(), 404);
}
