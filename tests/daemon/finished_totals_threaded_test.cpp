// /api/stats and /metrics count every task that finished since start, per final state, whatever
// retention kept: a script waiting for "20 done" with --keep-finished 5 must see 20.
#include <gtest/gtest.h>

#include <string>

#include "daemon_fixture.hpp"

namespace srv = uasyncd::server;
using nlohmann::json;

namespace {

using FinishedTotals = DaemonTest;

TEST_F(FinishedTotals, CountEveryFinishedTaskWhateverRetentionKept) {
  srv::DaemonOptions o;
  o.keep_finished = 5;
  start(o);
  for (int i = 0; i < 20; ++i)
    submit(R"({"value": 1})");
  for (int i = 0; i < 3; ++i)
    submit(R"({"fail": "no"})");
  // A failure with a retry is counted once, when it is final.
  submit(R"({"fail": "twice", "retries": 1})");
  const std::string running = submit(R"({"sleep": 3600})");
  ASSERT_EQ(post("/api/tasks/" + running + "/cancel", "").status, 202);
  // Most of them are evicted by now: wait on the counts, not on the tasks.
  const Result stats = poll("/api/stats", [](const json& b) {
    return b.contains("finished_total") && b["finished_total"]["done"] == 20 &&
           b["finished_total"]["failed"] == 4 && b["finished_total"]["cancelled"] == 1;
  });
  ASSERT_EQ(stats.status, 200);
  SCOPED_TRACE(stats.body.dump());
  EXPECT_LE(stats.body["retained"].get<int>(), 5);
  const json& total = stats.body["finished_total"];
  EXPECT_EQ(total["done"], 20);
  EXPECT_EQ(total["failed"], 4);
  EXPECT_EQ(total["cancelled"], 1);
  EXPECT_EQ(total["timed_out"], 0);
  EXPECT_EQ(total["interrupted"], 0);
  EXPECT_FALSE(total.contains("pending"));
  EXPECT_FALSE(total.contains("running"));

  const Result metrics = get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  const std::string text = metrics.body.get<std::string>();
  EXPECT_NE(text.find("# TYPE uasyncd_tasks_finished_total counter"), std::string::npos) << text;
  EXPECT_NE(text.find("uasyncd_tasks_finished_total{state=\"done\"} 20\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("uasyncd_tasks_finished_total{state=\"failed\"} 4\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("uasyncd_tasks_finished_total{state=\"cancelled\"} 1\n"), std::string::npos)
      << text;
}

}  // namespace
