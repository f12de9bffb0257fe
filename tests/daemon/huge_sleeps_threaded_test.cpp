// Issue 10: with --virtual-clock, sleeps and timeouts of 1e308 s saturate the loop's deadlines
// instead of overflowing a signed 64-bit deadline (UBSan aborted the daemon; Release wrapped the
// deadline into the past). The daemon runs such a task to its end and goes on answering. (A
// timeout of 1e308 s saturates to the same deadline as the sleep it guards, so it is not used.)
#include <gtest/gtest.h>

#include <string>

#include "daemon_fixture.hpp"

namespace srv = uasyncd::server;
using nlohmann::json;

namespace {

using HugeSleeps = DaemonTest;

TEST_F(HugeSleeps, ASequenceOf1e308SleepsEndsOnTheVirtualClock) {
  srv::DaemonOptions o;
  o.virtual_clock = true;
  start(o);
  json steps = json::array();
  for (int i = 0; i < 6; ++i)
    steps.push_back({{"sleep", 1e308}});
  steps.push_back({{"value", "end"}});
  const std::string id = submit(json{{"sequence", steps}}.dump());
  const Result r = wait(id, 30);
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["state"], "done") << r.body.dump();
  EXPECT_EQ(r.body["result"], "end");
  // And the loop still runs tasks afterwards.
  const Result after = wait(submit(R"({"sequence": [{"sleep_ms": 5}, {"value": 2}]})"), 30);
  EXPECT_EQ(after.body["state"], "done") << after.body.dump();
  EXPECT_EQ(get("/healthz").status, 200);
}

}  // namespace
