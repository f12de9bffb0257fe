// POSTs that carry no body at all (no Content-Length, no chunked encoding), as `curl -X POST`
// sends them: a cancel works, a submit or a timeout gets a clear 400, nothing waits or hangs.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "daemon_fixture.hpp"

namespace {

// Sends `request` as is and reads the whole answer (the request asks the server to close).
std::string raw_exchange(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;)
      answer.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return answer;
}

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
