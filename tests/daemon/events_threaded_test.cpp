// GET /api/events: task transitions as SSE, coalesced into at most 10 batches a second, with
// a cap on open streams and keepalive comments on quiet ones.
#include <algorithm>
#include <string>

#include "daemon_fixture.hpp"

namespace srv = uasyncd::server;
using nlohmann::json;

namespace {

using Events = DaemonTest;

// Every event of every batch, in order (after the stream's greeting, which comes first).
std::vector<json> flatten(const std::string& text) {
  std::vector<json> out;
  const std::vector<SseEvent> events = parse_sse(text);
  EXPECT_TRUE(!events.empty() && events.front().event == "hello");
  for (const SseEvent& e : events) {
    if (&e == &events.front()) continue;
    EXPECT_EQ(e.event, "message");
    EXPECT_TRUE(e.data.is_array());
    for (const json& item : e.data)
      out.push_back(item);
  }
  return out;
}

}  // namespace

TEST_F(Events, TaskAndStepTransitionsArriveInOrder) {
  start();
  SseReader reader(daemon_->port(), "/api/events", [&](const std::string& text) {
    return text.find(R"("type":"finished")") != std::string::npos;
  });
  ASSERT_TRUE(reader.wait_for_text(": connected"));
  const std::string id = submit(R"({"sequence": [{"sleep_ms": 50}, {"value": 1}]})");
  reader.join();
  EXPECT_EQ(reader.content_type(), "text/event-stream");
  std::vector<json> events = flatten(reader.text());
  std::vector<std::string> seen;
  for (const json& e : events) {
    EXPECT_EQ(e["id"], id);
    seen.push_back(e["type"].get<std::string>() + ":" +
                   (e.contains("step") ? e["step"].get<std::string>() + ":" : "") +
                   e["state"].get<std::string>());
  }
  const std::vector<std::string> want{
      "submitted:pending",         "started:running",        "step:" + id + ".0:running",
      "step:" + id + ".1:running", "step:" + id + ".1:done", "step:" + id + ".2:running",
      "step:" + id + ".2:done",    "step:" + id + ".0:done", "finished:done"};
  EXPECT_EQ(seen, want);
}

TEST_F(Events, BurstsAreCoalescedToTenBatchesASecond) {
  start();
  SseReader reader(daemon_->port(), "/api/events", [](const std::string&) { return false; });
  ASSERT_TRUE(reader.wait_for_text(": connected"));
  // 40 tasks over about 0.8 s: 200 transitions, far more than the batches allowed.
  std::string last;
  for (int i = 0; i < 40; ++i) {
    last = submit(R"({"value": 1})");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  bool last_finished = false;
  for (int i = 0; i < 500 && !last_finished; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const std::string text = reader.text();
    const std::size_t end = text.rfind("\n\n");
    for (const json& e : flatten(text.substr(0, end == std::string::npos ? 0 : end + 2))) {
      last_finished = last_finished || (e["type"] == "finished" && e["id"] == last);
    }
  }
  ASSERT_TRUE(last_finished);
  client_.reset();
  daemon_->stop();
  reader.join();
  std::vector<SseReader::Chunk> batches;
  for (const SseReader::Chunk& c : reader.chunks()) {
    if (c.text.rfind("data: ", 0) == 0) batches.push_back(c);
  }
  // Each task: submitted, started, its step running and done, finished.
  EXPECT_EQ(flatten(reader.text()).size(), 40u * 5);
  ASSERT_GE(batches.size(), 2u);
  EXPECT_LT(batches.size(), 40u);
  // At most one batch per 100 ms. Arrival times jitter on a loaded machine (one batch late,
  // the next on time), so the rate is checked over the whole run, with one interval of slack.
  const auto span = batches.back().at - batches.front().at;
  EXPECT_LE(static_cast<std::int64_t>(batches.size() - 1) * 100,
            std::chrono::duration_cast<std::chrono::milliseconds>(span).count() + 100)
      << batches.size() << " batches";
}

TEST_F(Events, StreamsPastTheCapGet503) {
  srv::DaemonOptions o;
  o.max_sse = 1;
  start(o);
  SseReader first(daemon_->port(), "/api/events", [](const std::string&) { return false; });
  ASSERT_TRUE(first.wait_for_text(": connected"));
  Result second = get("/api/events");
  EXPECT_EQ(second.status, 503);
  EXPECT_EQ(second.body["error"]["code"], "unavailable");
  EXPECT_EQ(get("/api/stats").status, 200);  // ordinary requests still have their threads
  client_.reset();
  daemon_->stop();  // ends the open stream
  first.join();
}

TEST_F(Events, AClosedStreamFreesItsSlot) {
  srv::DaemonOptions o;
  o.max_sse = 1;
  o.sse_keepalive = std::chrono::milliseconds(50);
  start(o);
  const auto keepalive = [](const std::string& t) {
    return t.find("keepalive") != std::string::npos;
  };
  {
    // Hangs up after the first keepalive; the daemon notices at its next write.
    SseReader first(daemon_->port(), "/api/events", keepalive);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  SseReader again(daemon_->port(), "/api/events", keepalive);
  again.join();
  EXPECT_EQ(again.status(), 200) << again.body();
}

// Issue 10: 3,000 open-read-close cycles of a followed output left every slot taken until each
// stream's next keepalive write (15 s), answering 503 meanwhile.
TEST_F(Events, AStreamWhoseClientLeftFreesItsSlotBeforeAnyWrite) {
  srv::DaemonOptions o;
  o.max_sse = 2;
  o.sse_keepalive = std::chrono::seconds(60);  // no write comes to notice the client leaving
  start(o);
  const std::string id = submit(R"({"sleep": 600})");
  const auto connected = [](const std::string& t) {
    return t.find(": connected") != std::string::npos;
  };
  for (int i = 0; i < 10; ++i) {  // five times the cap
    const std::string path =
        i % 2 == 0 ? "/api/tasks/" + id + "/output?follow=1" : std::string("/api/events");
    int status = 0;
    std::string body;
    // The slot comes back within one slice of the stream's pump (200 ms); 2 s on a slow machine.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    do {
      SseReader reader(daemon_->port(), path, connected);  // hangs up once connected
      reader.join();
      status = reader.status();
      body = reader.body();
      if (status != 503) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (std::chrono::steady_clock::now() < until);
    ASSERT_EQ(status, 200) << "cycle " << i << ": " << body;
  }
}

TEST_F(Events, QuietStreamsGetKeepaliveComments) {
  srv::DaemonOptions o;
  o.sse_keepalive = std::chrono::milliseconds(100);
  start(o);
  SseReader reader(daemon_->port(), "/api/events", [](const std::string& t) {
    std::size_t n = 0;
    for (std::size_t p = t.find(": keepalive"); p != std::string::npos;
         p = t.find(": keepalive", p + 1))
      ++n;
    return n >= 3;
  });
  reader.join();
  EXPECT_EQ(reader.status(), 200);
}

TEST_F(Events, NeedTheTokenWhenOneIsSet) {
  srv::DaemonOptions o;
  o.token = "s3cret";
  start(o);
  EXPECT_EQ(get("/api/events").status, 401);
}

TEST_F(Events, StopEndsOpenStreamsPromptly) {
  start();
  SseReader reader(daemon_->port(), "/api/events", [](const std::string&) { return false; });
  ASSERT_TRUE(reader.wait_for_text(": connected"));
  const auto t0 = std::chrono::steady_clock::now();
  client_.reset();
  daemon_->stop();
  reader.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}
