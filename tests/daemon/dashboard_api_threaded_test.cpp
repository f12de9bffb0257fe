// What the daemon serves for dashboard v2 (docs/dashboard-api.md): the health fields and
// features of /api/stats, removal events, search and paging of /api/tasks, a pending task's
// place in the queue, the finished-per-second history, output on the shared event stream and
// bulk actions. The browser tests (tests/web) drive the same endpoints through the page.
#include <algorithm>
#include <string>
#include <vector>

#include "daemon_fixture.hpp"

namespace srv = uasyncd::server;
using nlohmann::json;

namespace {

using DashboardApi = DaemonTest;

std::vector<std::string> ids_of(const json& list) {
  std::vector<std::string> out;
  for (const json& t : list.at("tasks"))
    out.push_back(t.at("id").get<std::string>());
  return out;
}

// The stream id in the greeting of an event stream's text, or "".
std::string stream_id(const std::string& text) {
  for (const SseEvent& e : parse_sse(text))
    if (e.event == "hello") return e.data.at("stream").get<std::string>();
  return "";
}

}  // namespace

TEST_F(DashboardApi, StatsTellLimitsRetentionAndFeatures) {
  srv::DaemonOptions options;
  options.max_running = 4;
  options.keep_finished = 500;
  start(options);
  Result r = get("/api/stats");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body.at("max_running"), 4);
  EXPECT_EQ(r.body.at("keep_finished"), 500);
  std::vector<std::string> features = r.body.at("features").get<std::vector<std::string>>();
  std::sort(features.begin(), features.end());
  EXPECT_EQ(features, (std::vector<std::string>{"events.follow", "events.removed", "instances",
                                                "queues", "schedules", "stats.history",
                                                "tasks.bulk", "tasks.paging", "tasks.search"}));
}

TEST_F(DashboardApi, DeletesAndEvictionsAreEventsWithReasonAndState) {
  srv::DaemonOptions options;
  options.keep_finished = 2;
  start(options);
  SseReader reader(daemon_->port(), "/api/events", [](const std::string& text) {
    return text.find(R"("reason":"evicted")") != std::string::npos;
  });
  ASSERT_TRUE(reader.wait_for_text(": connected"));
  const std::string a = submit(R"({"value": 1})");
  ASSERT_EQ(wait(a).body.at("state"), "done");
  ASSERT_EQ(del("/api/tasks/" + a).status, 200);
  EXPECT_EQ(del("/api/tasks/" + a).status, 404);  // gone: no second event
  std::vector<std::string> rest;
  for (int i = 0; i < 3; ++i) {
    rest.push_back(submit(R"({"value": 2})"));
    ASSERT_EQ(wait(rest.back()).body.at("state"), "done");
  }
  reader.join();
  std::vector<json> removed;
  for (const SseEvent& e : parse_sse(reader.text()))
    if (e.event == "message")
      for (const json& item : e.data)
        if (item.at("type") == "removed") removed.push_back(item);
  ASSERT_EQ(removed.size(), 2u) << reader.text();
  EXPECT_EQ(removed[0].at("id"), a);
  EXPECT_EQ(removed[0].at("reason"), "deleted");
  EXPECT_EQ(removed[0].at("state"), "done");
  EXPECT_EQ(removed[1].at("id"), rest[0]);  // the oldest finished, past --keep-finished 2
  EXPECT_EQ(removed[1].at("reason"), "evicted");
  EXPECT_EQ(get("/api/tasks/" + rest[0]).status, 404);
}

TEST_F(DashboardApi, SearchIsACaseInsensitiveSubstringOfTheName) {
  start();
  const std::string a = submit(R"({"name": "Nightly JOB 1", "value": 1})");
  const std::string b = submit(R"({"name": "job-2", "value": 2})");
  submit(R"({"name": "other", "value": 3})");
  submit(R"({"name": "50%_off", "value": 4})");
  Result r = get("/api/tasks?q=jOb");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(ids_of(r.body), (std::vector<std::string>{b, a}));
  EXPECT_EQ(r.body.at("total"), 2);
  // LIKE's wildcards are literal characters in q.
  EXPECT_EQ(get("/api/tasks?q=%25_").body.at("total"), 1);
  EXPECT_EQ(get("/api/tasks?q=b_2").body.at("total"), 0);  // "_" would match job-2's "-"
  // Both filters must match; an over-long q is refused.
  EXPECT_EQ(ids_of(get("/api/tasks?q=job&name=job-2").body), (std::vector<std::string>{b}));
  Result too_long = get("/api/tasks?q=" + std::string(201, 'x'));
  EXPECT_EQ(too_long.status, 400);
  EXPECT_EQ(too_long.body.at("error").at("message"), "q must be at most 200 bytes");
}

TEST_F(DashboardApi, PagesHaveTotalsOffsetsAndBothEnds) {
  start();
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i)
    ids.push_back(submit(R"({"name": "page me", "value": 1})"));
  submit(R"({"name": "not me", "value": 0})");
  Result first = get("/api/tasks?q=page&limit=3");
  EXPECT_EQ(ids_of(first.body), (std::vector<std::string>{ids[6], ids[5], ids[4]}));
  EXPECT_EQ(first.body.at("total"), 7);
  EXPECT_EQ(first.body.at("offset"), 0);
  EXPECT_TRUE(first.body.at("prev_cursor").is_null());
  Result second = get("/api/tasks?q=page&limit=3&cursor=" + ids[4]);
  EXPECT_EQ(ids_of(second.body), (std::vector<std::string>{ids[3], ids[2], ids[1]}));
  EXPECT_EQ(second.body.at("offset"), 3);
  EXPECT_EQ(second.body.at("prev_cursor"), ids[3]);
  // The last page as counted from the newest (7 = 3 + 3 + 1), so its numbers fit theirs.
  Result last = get("/api/tasks?q=page&limit=3&last=1");
  EXPECT_EQ(ids_of(last.body), (std::vector<std::string>{ids[0]}));
  EXPECT_EQ(last.body.at("offset"), 6);
  EXPECT_EQ(last.body.at("prev_cursor"), ids[0]);
  EXPECT_TRUE(last.body.at("next_cursor").is_null());
  // "after" pages back; near the top it answers the full newest page.
  EXPECT_EQ(ids_of(get("/api/tasks?q=page&limit=3&after=" + ids[0]).body),
            (std::vector<std::string>{ids[3], ids[2], ids[1]}));
  Result top = get("/api/tasks?q=page&limit=3&after=" + ids[5]);
  EXPECT_EQ(ids_of(top.body), (std::vector<std::string>{ids[6], ids[5], ids[4]}));
  EXPECT_TRUE(top.body.at("prev_cursor").is_null());
  EXPECT_EQ(get("/api/tasks?cursor=" + ids[1] + "&last=1").status, 400);
  EXPECT_EQ(get("/api/tasks?after=" + ids[1] + ".1").status, 400);
}

TEST_F(DashboardApi, APendingTaskTellsItsPlaceInTheQueue) {
  srv::DaemonOptions options;
  options.max_running = 1;
  start(options);
  const std::string blocker = submit(R"({"sleep": 3600})");
  poll("/api/tasks/" + blocker, [](const json& t) { return t.at("state") == "running"; });
  std::vector<std::string> queued;
  for (int i = 0; i < 3; ++i)
    queued.push_back(submit(R"({"value": 1})"));
  Result third = get("/api/tasks/" + queued[2]);
  EXPECT_EQ(third.body.at("state"), "pending");
  EXPECT_EQ(third.body.at("queue_position"), 3);
  EXPECT_EQ(third.body.at("queue_length"), 3);
  EXPECT_GE(third.body.at("queued_at").get<double>(), third.body.at("created").get<double>());
  EXPECT_TRUE(third.body.at("retry_at").is_null());
  EXPECT_EQ(get("/api/tasks/" + queued[0]).body.at("queue_position"), 1);
  EXPECT_FALSE(get("/api/tasks/" + blocker).body.contains("queue_position"));
  ASSERT_EQ(post("/api/tasks/" + blocker + "/cancel", "").status, 202);
  EXPECT_EQ(wait(queued[2]).body.at("state"), "done");
  EXPECT_FALSE(get("/api/tasks/" + queued[2]).body.contains("queue_position"));
}

TEST_F(DashboardApi, HistoryCountsFinishedTasksPerSecondAndState) {
  start();
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(wait(submit(R"({"value": 1})")).body.at("state"), "done");
  ASSERT_EQ(wait(submit(R"({"fail": "no"})")).body.at("state"), "failed");
  // The current second is not in the history: wait until it holds all four.
  Result r = poll("/api/stats/history", [](const json& h) {
    int n = 0;
    for (const auto& [state, counts] : h.at("finished").items())
      for (const json& c : counts)
        n += c.get<int>();
    return n == 4;
  });
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body.at("resolution"), 1);
  for (const char* state : {"done", "failed", "cancelled", "timed_out", "interrupted"})
    EXPECT_EQ(r.body.at("finished").at(state).size(), 900u) << state;
  int done = 0;
  for (const json& c : r.body.at("finished").at("done"))
    done += c.get<int>();
  EXPECT_EQ(done, 3);
  EXPECT_EQ(post("/api/stats/history", "{}").status, 405);
}

TEST_F(DashboardApi, FollowedOutputComesOnTheEventStreamInOrderAndOnce) {
  srv::DaemonOptions options;
  options.allow_exec = true;
  start(options);
  SseReader reader(daemon_->port(), "/api/events", [](const std::string& text) {
    return text.find("event: output-end") != std::string::npos;
  });
  ASSERT_TRUE(reader.wait_for_text("event: hello"));
  const std::string stream = stream_id(reader.text());
  ASSERT_EQ(stream.size(), 32u);
  const std::string id = submit(
      R"({"exec": ["sh", "-c", "i=0; while [ $i -lt 20 ]; do echo line $i; i=$((i+1)); sleep 0.01; done"]})");
  auto put = [&](const std::string& path, const std::string& body) {
    return result(client_->Put(path.c_str(), body, "application/json"));
  };
  Result r = put("/api/events/" + stream + "/follow", R"({"tasks": [")" + id + R"(", "t999999"]})");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body.at("following"), json::array({id}));
  EXPECT_EQ(r.body.at("unknown"), json::array({"t999999"}));
  EXPECT_EQ(put("/api/events/" + std::string(32, '0') + "/follow", R"({"tasks": []})").status, 404);
  EXPECT_EQ(put("/api/events/" + stream + "/follow", R"({"tasks": ["x"]})").status, 400);
  reader.join();
  std::string out;
  std::size_t next = 0;
  for (const SseEvent& e : parse_sse(reader.text())) {
    if (e.event == "output") {
      EXPECT_EQ(e.data.at("id"), id);
      EXPECT_EQ(e.data.at("stream"), "stdout");
      EXPECT_EQ(e.data.at("offset").get<std::size_t>(), next) << "each byte once, in order";
      out += e.data.at("data").get<std::string>();
      next = out.size();
    } else if (e.event == "output-end") {
      EXPECT_EQ(e.data.at("state"), "done");
    }
  }
  std::string want;
  for (int i = 0; i < 20; ++i)
    want += "line " + std::to_string(i) + "\n";
  EXPECT_EQ(out, want);
}

TEST_F(DashboardApi, BulkCancelsByFilterAndDeletesByIds) {
  start();
  std::vector<std::string> sweep;
  for (int i = 0; i < 3; ++i)
    sweep.push_back(submit(R"({"name": "sweep", "sleep": 3600})"));
  const std::string keep = submit(R"({"name": "keep", "sleep": 3600})");
  Result r = post("/api/tasks/bulk", R"({"action": "cancel", "filter": {"q": "SWEEP"}})");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body, (json{{"action", "cancel"},
                          {"matched", 3},
                          {"affected", 3},
                          {"skipped", 0},
                          {"more", false},
                          {"next_cursor", nullptr}}));
  for (const std::string& id : sweep)
    EXPECT_EQ(wait(id).body.at("state"), "cancelled");
  EXPECT_EQ(get("/api/tasks/" + keep).body.at("state"), "running");
  // Delete: finished ones go, the running one and an unknown id are skipped.
  r = post("/api/tasks/bulk", R"({"action": "delete", "ids": [")" + sweep[0] + R"(", ")" +
                                  sweep[1] + R"(", ")" + keep + R"(", "t999999"]})");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body.at("matched"), 4);
  EXPECT_EQ(r.body.at("affected"), 2);
  EXPECT_EQ(r.body.at("skipped"), 2);
  EXPECT_EQ(get("/api/tasks/" + sweep[0]).status, 404);
  EXPECT_EQ(get("/api/tasks/" + sweep[2]).status, 200);
  // at_most: the newest matches only.
  r = post("/api/tasks/bulk", R"({"action": "delete", "filter": {}, "at_most": 1})");
  EXPECT_EQ(r.body.at("matched"), 1);
  EXPECT_EQ(r.body.at("skipped"), 1);  // the newest is `keep`, still running
  EXPECT_EQ(post("/api/tasks/bulk", R"({"action": "cancel", "cursor": 1})").status, 400);
  EXPECT_EQ(post("/api/tasks/bulk", R"({"action": "cancel", "ids": [], "filter": {}})").status,
            400);
  EXPECT_EQ(post("/api/tasks/bulk", R"({"action": "delete", "ids": ["t1.1"]})").status, 400);
  EXPECT_EQ(post("/api/tasks/bulk", R"({"action": "delete", "filter": {}, "at_most": 0})").status,
            400);
  EXPECT_EQ(get("/api/tasks/bulk").status, 405);
  post("/api/tasks/" + keep + "/cancel", "");
}

TEST_F(DashboardApi, BulkPastItsCapSaysMoreAndWhereToGoOn) {
  srv::DaemonOptions options;
  options.bulk_max_jobs = 3;
  start(options);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(submit(R"({"value": 1})"));
    ASSERT_EQ(wait(ids.back()).body.at("state"), "done");
  }
  Result r = post("/api/tasks/bulk", R"({"action": "delete", "filter": {}})");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body.at("matched"), 3);
  EXPECT_EQ(r.body.at("affected"), 3);
  EXPECT_EQ(r.body.at("more"), true);
  ASSERT_TRUE(r.body.contains("next_cursor")) << r.body.dump();
  EXPECT_EQ(r.body.at("next_cursor"), ids[2]);
  r = post("/api/tasks/bulk", R"({"action": "delete", "filter": {"cursor": ")" +
                                  r.body.at("next_cursor").get<std::string>() + R"("}})");
  EXPECT_EQ(r.body.at("affected"), 2);
  EXPECT_EQ(r.body.at("more"), false);
  EXPECT_EQ(get("/api/tasks").body.at("total"), 0);
  // Exactly the cap, nothing older: no "more".
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(wait(submit(R"({"value": 1})")).body.at("state"), "done");
  r = post("/api/tasks/bulk", R"({"action": "delete", "filter": {}})");
  EXPECT_EQ(r.body.at("affected"), 3);
  EXPECT_EQ(r.body.at("more"), false);
}
