// POSTs that carry no body at all (no Content-Length, no chunked encoding), as `curl -X POST`
// sends them: a cancel works, a submit or a timeout gets a clear 400, nothing waits or hangs.
#include <gtest/gtest.h>

#include <string>

#include "daemon_fixture.hpp"
#include "raw_exchange.hpp"

namespace {

std::string bodyless_post(int port, const std::string& path) {
  return raw_exchange(port,
                      "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
}

using BodylessPost = DaemonTest;

TEST_F(BodylessPost, CancelsARunningTask) {
  start();
  const std::string id = submit(R"({"sleep": 3600})");
  const std::string answer = bodyless_post(daemon_->port(), "/api/tasks/" + id + "/cancel");
  EXPECT_EQ(answer.rfind("HTTP/1.1 202", 0), 0u) << answer;
  EXPECT_EQ(wait(id).body["state"], "cancelled");
}

TEST_F(BodylessPost, CancelOfAnUnknownTaskIs404) {
  start();
  const std::string answer = bodyless_post(daemon_->port(), "/api/tasks/t999/cancel");
  EXPECT_EQ(answer.rfind("HTTP/1.1 404", 0), 0u) << answer;
  EXPECT_NE(answer.find("no task or step t999"), std::string::npos) << answer;
}

TEST_F(BodylessPost, SubmitAndTimeoutNameTheMissingBody) {
  start();
  const std::string id = submit(R"({"sleep": 3600})");
  for (const std::string& path : {std::string("/api/tasks"), "/api/tasks/" + id + "/timeout"}) {
    const std::string answer = bodyless_post(daemon_->port(), path);
    EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
    EXPECT_NE(answer.find("POST " + path + " needs a JSON body"), std::string::npos) << answer;
  }
  EXPECT_EQ(get("/api/tasks").body["tasks"].size(), 1u);  // nothing was submitted
  EXPECT_EQ(get("/api/tasks/" + id).body["state"], "running");
}

TEST_F(BodylessPost, StillNeedsTheToken) {
  uasyncd::server::DaemonOptions options;
  options.token = "letmein";
  start(options);
  const std::string answer = bodyless_post(daemon_->port(), "/api/tasks/t1/cancel");
  EXPECT_EQ(answer.rfind("HTTP/1.1 401", 0), 0u) << answer;
}

}  // namespace
