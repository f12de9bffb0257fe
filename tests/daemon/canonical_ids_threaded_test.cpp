// One canonical form for task and step ids and plain decimal numbers in query parameters: no two
// texts name one task ("t01" is not "t1"), and "0x1" is not a number of seconds.
#include <gtest/gtest.h>

#include <string>

#include "daemon_fixture.hpp"
#include "raw_exchange.hpp"
#include "uasyncd/job/job_id.hpp"

namespace srv = uasyncd::server;

namespace {

TEST(JobRef, OnlyTheCanonicalFormParses) {
  ASSERT_TRUE(srv::parse_job_ref("t1"));
  EXPECT_EQ(srv::parse_job_ref("t1")->id, 1u);
  EXPECT_FALSE(srv::parse_job_ref("t1")->step);
  ASSERT_TRUE(srv::parse_job_ref("t12.0"));
  EXPECT_EQ(srv::parse_job_ref("t12.0")->step, 0u);
  EXPECT_EQ(srv::parse_job_ref("t10.20")->step, 20u);
  EXPECT_TRUE(srv::parse_job_ref("t0"));  // a number, if no task has it
  for (const char* text :
       {"t01", "t001.1", "t1.01", "t1.00", "t00", "t+1", "t1.+1", "t-1", "t 1", "t1 ", "t1.", "t.1",
        "t", "1", "T1", "t1e3", "t0x1", "t1.1.1", "t99999999999999999999"}) {
    EXPECT_FALSE(srv::parse_job_ref(text)) << text;
  }
  EXPECT_EQ(srv::job_id_text(7), "t7");
  EXPECT_EQ(srv::step_id_text(7, 3), "t7.3");
}

using CanonicalIds = DaemonTest;

TEST_F(CanonicalIds, OtherSpellingsOfAnIdNameNoTask) {
  start();
  const std::string id = submit(R"({"sequence": [{"sleep": 3600}, {"value": 1}]})");
  ASSERT_EQ(id, "t1");
  ASSERT_EQ(get("/api/tasks/t1").status, 200);
  ASSERT_EQ(get("/api/tasks/t1.1").status, 200);
  for (const std::string alias : {"t01", "t001", "t001.1", "t1.01", "t+1"}) {
    const Result r = get("/api/tasks/" + alias);
    EXPECT_EQ(r.status, 404) << alias << ": " << r.body.dump();
    EXPECT_EQ(get("/api/tasks/" + alias + "/wait?timeout=0").status, 404) << alias;
    EXPECT_EQ(post("/api/tasks/" + alias + "/cancel", "").status, 404) << alias;
  }
  EXPECT_EQ(get("/api/tasks/t1").body["state"], "running");  // no alias cancelled it
  EXPECT_EQ(get("/api/tasks?cursor=t02").status, 400);
  EXPECT_EQ(get("/api/tasks?cursor=t2").status, 200);
}

TEST_F(CanonicalIds, WaitTimeoutIsAPlainDecimalNumber) {
  start();
  const std::string id = submit(R"({"sleep": 3600})");
  for (const std::string t :
       {"0x1", "1e1", "inf", "nan", "-1", "+1", "%201", "1.", ".5", "1,5", "0x1p3", ""}) {
    const Result r = get("/api/tasks/" + id + "/wait?timeout=" + t);
    EXPECT_EQ(r.status, 400) << "timeout=" << t << ": " << r.body.dump();
  }
  EXPECT_EQ(get("/api/tasks/" + id + "/wait?timeout=0").status, 202);
  EXPECT_EQ(get("/api/tasks/" + id + "/wait?timeout=0.05").status, 202);
  EXPECT_EQ(get("/api/tasks/" + id + "/wait?timeout=007").status, 202);
}

// "%2F" decodes to a slash: the path then has one segment too many and is no route at all,
// with or without a body.
TEST_F(CanonicalIds, AnEncodedSlashInAnIdIsNoRoute) {
  start();
  const std::string id = submit(R"({"sleep": 3600})");
  for (const std::string path :
       {"/api/tasks/t1%2F../cancel", "/api/tasks/t1%2F..%2Fcancel", "/api/tasks/t1%2Fx/cancel"}) {
    const std::string bodyless =
        raw_exchange(daemon_->port(),
                     "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(bodyless.rfind("HTTP/1.1 404", 0), 0u) << path << ": " << bodyless;
    EXPECT_NE(bodyless.find("\"not_found\""), std::string::npos) << bodyless;
    EXPECT_EQ(post(path, "").status, 404) << path;
  }
  EXPECT_EQ(get("/api/tasks/" + id).body["state"], "running");
  // A bodyless POST to another known path's method is 405, not a wait for a body.
  const std::string answer = raw_exchange(
      daemon_->port(), "POST /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 405", 0), 0u) << answer;
}

}  // namespace
