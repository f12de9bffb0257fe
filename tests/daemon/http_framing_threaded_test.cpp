// Issue 10, "HTTP framing", at the daemon: one canonical form for ids and numbers, paths that
// only look like a route are not one, and request-smuggling shapes are refused.
#include <string>

#include "../http/raw_client.hpp"
#include "daemon_fixture.hpp"

class HttpFramingTest : public DaemonTest {};

TEST_F(HttpFramingTest, IdsHaveOneFormDecimalWithoutLeadingZeros) {
  start();
  const std::string id = submit(R"({"value": 1})");
  ASSERT_EQ(id, "t1");
  EXPECT_EQ(get("/api/tasks/t1").status, 200);
  for (const char* alias : {"t01", "t001", "t+1", "t1.00", "t0x1", "t1e0"}) {
    EXPECT_EQ(get(std::string("/api/tasks/") + alias).status, 404) << alias;
  }
  const std::string seq = submit(R"({"sequence": [{"value": 1}, {"value": 2}]})");
  EXPECT_EQ(wait(seq).status, 200);
  EXPECT_EQ(get("/api/tasks/" + seq + ".1").status, 200);
  EXPECT_EQ(get("/api/tasks/" + seq + ".01").status, 404);
  EXPECT_EQ(get("/api/tasks/" + seq + ".001").status, 404);
}

TEST_F(HttpFramingTest, WaitTimeoutsAreDecimalSeconds) {
  start();
  const std::string id = submit(R"({"value": 1})");
  EXPECT_EQ(wait(id).status, 200);
  for (const char* bad : {"0x1", "1e1", "inf", "nan", "-1", "+1", " 1", "1.", ""}) {
    const Result r = get("/api/tasks/" + id + "/wait?timeout=" + bad);
    EXPECT_EQ(r.status, 400) << bad;
  }
  EXPECT_EQ(get("/api/tasks/" + id + "/wait?timeout=0.25").status, 200);
}

TEST_F(HttpFramingTest, AnEncodedSlashIsNotARoute) {
  start();
  submit(R"({"sleep": 3600})");
  // Decoded to /api/tasks/t1/../cancel: no route, not a malformed request.
  EXPECT_EQ(post("/api/tasks/t1%2F../cancel", "").status, 404);
  RawClient c(daemon_->port());
  ASSERT_TRUE(c.send(
      "POST /api/tasks/t1%2F../cancel HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}"));
  const auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(get("/api/tasks/t1").body["state"], "running");
}

TEST_F(HttpFramingTest, SmugglingShapesAre400) {
  start();
  const std::string spec = R"({"value": 1})";
  const std::string length = std::to_string(spec.size());
  for (const std::string& headers :
       {"Content-Length: " + length + "\r\nTransfer-Encoding: chunked\r\n",
        "Content-Length: " + length + "\r\nContent-Length: " + length + "\r\n",
        "Content-Length: " + length + "\r\nContent-Length: 1\r\n"}) {
    RawClient c(daemon_->port());
    ASSERT_TRUE(
        c.send("POST /api/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
               headers + "\r\n" + spec));
    const auto r = c.read_response();
    ASSERT_TRUE(r) << headers;
    EXPECT_EQ(r->status, 400) << headers;
  }
  EXPECT_EQ(get("/api/tasks").body["tasks"].size(), 0u);  // nothing was submitted
}

TEST_F(HttpFramingTest, AHundredMebibyteChunkedSubmitIs413Early) {
  start();
  RawClient c(daemon_->port());
  ASSERT_TRUE(
      c.send("POST /api/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             "Transfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk = "100000\r\n" + std::string(0x100000, ' ') + "\r\n";  // 1 MiB
  std::optional<RawResponse> r;
  for (int i = 0; i < 100 && !r; ++i) {
    if (!c.send(chunk, std::chrono::milliseconds(2000))) break;
    c.pump();
    r = c.read_response(std::chrono::milliseconds(0));
  }
  if (!r) r = c.read_response();
  ASSERT_TRUE(r) << c.bytes_sent();
  EXPECT_EQ(r->status, 413);
  EXPECT_LT(c.bytes_sent(), 20u << 20);
}
