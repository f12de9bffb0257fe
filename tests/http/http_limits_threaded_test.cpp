// Limits the transport holds before any handler runs: header size, head and body deadlines,
// body size, compressed bodies, request framing, ranges, control characters in paths. Each
// test sends raw bytes to a real socket.
#include <zlib.h>

#include <nlohmann/json.hpp>

#include "server_fixture.hpp"

namespace {

std::string post_head(const std::string& path, const std::string& headers) {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + "\r\n";
}

std::string error_code(const RawResponse& r) {
  return nlohmann::json::parse(r.body).at("error").at("code").get<std::string>();
}

// `size` zero bytes, gzipped: a small body that inflates to a large one.
std::string gzip_of_zeros(std::size_t size) {
  z_stream z{};
  deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
  const std::string zeros(1 << 20, '\0');
  std::string out;
  char buf[1 << 16];
  for (std::size_t done = 0; done < size; done += zeros.size()) {
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zeros.data()));
    z.avail_in = static_cast<uInt>(zeros.size());
    const int flush = done + zeros.size() >= size ? Z_FINISH : Z_NO_FLUSH;
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof(buf);
      deflate(&z, flush);
      out.append(buf, sizeof(buf) - z.avail_out);
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  return out;
}

}  // namespace

class HttpFramingTest : public HttpServerTest {
 protected:
  // The status of a POST /echo with these header lines (and body), on a fresh connection.
  int status_of_post(const std::string& headers, const std::string& body = "") {
    RawClient c(port_);
    if (!c.send(post_head("/echo", headers) + body)) return -1;
    const auto r = c.read_response();
    return r ? r->status : -1;
  }
};

TEST_F(HttpServerTest, HeadersPastTheCapGet431AndTheConnectionCloses) {
  start();
  RawClient c(port_);
  std::string head = "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  while (head.size() < 70 * 1024)
    head += "X-Pad: " + std::string(1000, 'p') + "\r\n";
  ASSERT_TRUE(c.send(head));
  const auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(error_code(*r), "header_too_large");
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.closed_within(2000ms));
  // Nothing past the cap was kept: the gate read at most one more chunk.
  EXPECT_LT(server_->stats().bytes_received, 100u * 1024);
}

TEST_F(HttpServerTest, HeadersJustUnderTheCapAreServed) {
  start();
  RawClient c(port_);
  std::string extra;
  while (extra.size() < 60 * 1024)
    extra += "X-Pad: " + std::string(1000, 'p') + "\r\n";
  ASSERT_TRUE(c.send(get_request("/hello", extra)));
  const auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
}

TEST_F(HttpServerTest, SlowlorisIsClosedAtItsHeadDeadlineWithoutBlockingOthers) {
  HttpServerOptions o = fast_options();
  o.worker_threads = 1;  // a slow client that held a worker would block every other one
  start(o);
  std::vector<std::unique_ptr<RawClient>> slow;
  for (int i = 0; i < 10; ++i) {
    slow.push_back(std::make_unique<RawClient>(port_));
    ASSERT_TRUE(slow.back()->send("GET /hello HTTP/1.1\r\n"));
  }
  const auto started = Clock::now();
  bool closed = false;
  while (!closed && ms_since(started) < 3000ms) {
    // One header line every 200 ms, the way slowloris keeps a server waiting.
    for (auto& c : slow)
      c->send("X-Slow: 1\r\n");
    const auto t = Clock::now();
    const auto r = fetch("/hello");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_LT(ms_since(t), kPrompt);
    std::this_thread::sleep_for(200ms);
    for (auto& c : slow)
      c->pump();
    closed = std::all_of(slow.begin(), slow.end(), [](auto& c) { return c->closed(); });
  }
  // The deadline counts from the first byte, whatever keeps trickling in: 1 s, not forever.
  EXPECT_TRUE(closed);
  EXPECT_GE(ms_since(started), 800ms);
  EXPECT_LT(ms_since(started), 2500ms);
}

TEST_F(HttpServerTest, ASlowHeadIsAnswered408) {
  start();
  RawClient c(port_);
  ASSERT_TRUE(c.send("GET /hello HTTP/1.1\r\nHost: x\r\n"));
  const auto r = c.read_response(3000ms);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  EXPECT_EQ(error_code(*r), "request_timeout");
}

TEST_F(HttpServerTest, ChunkedBodyPastTheLimitIs413AfterAboutOneMebibyte) {
  start();
  RawClient c(port_);
  ASSERT_TRUE(c.send(post_head("/echo", "Transfer-Encoding: chunked\r\n")));
  const std::string chunk = "10000\r\n" + std::string(0x10000, 'a') + "\r\n";  // 64 KiB
  const std::size_t planned = 100u << 20;
  std::optional<RawResponse> r;
  std::string pending;
  const auto started = Clock::now();
  while (c.bytes_sent() < planned && ms_since(started) < 10000ms) {
    if (pending.empty()) pending = chunk;
    const ssize_t n = c.send_some(pending);
    if (n < 0) break;  // the server closed after answering
    pending.erase(0, static_cast<std::size_t>(n));
    c.pump();
    if ((r = c.read_response(0ms))) break;
    if (n == 0) std::this_thread::sleep_for(1ms);
  }
  if (!r) r = c.read_response(2000ms);
  ASSERT_TRUE(r) << "no answer after " << c.bytes_sent() << " bytes sent";
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(error_code(*r), "payload_too_large");
  EXPECT_EQ(echo_calls_, 0);
  const HttpServer::Stats s = server_->stats();
  EXPECT_LE(s.body_bytes_read, (1u << 20) + 0x10000);  // the payload up to the limit, no more
  EXPECT_LT(s.bytes_received, 8u << 20);               // with what lingering dropped
  EXPECT_LT(c.bytes_sent(), 32u << 20);                // the client was stopped early
}

TEST_F(HttpServerTest, ContentLengthPastTheLimitIs413BeforeTheBodyIsSent) {
  start();
  RawClient c(port_);
  ASSERT_TRUE(c.send(post_head("/echo", "Content-Length: 104857600\r\n")));
  const auto r = c.read_response(2000ms);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(server_->stats().body_bytes_read, 0u);
  EXPECT_EQ(echo_calls_, 0);
}

TEST_F(HttpServerTest, ABodyWithinTheLimitIsReadAndTheConnectionKept) {
  start();
  RawClient c(port_);
  const std::string body(1 << 20, 'b');
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.send(
        post_head("/echo", "Content-Length: " + std::to_string(body.size()) + "\r\n") + body));
    const auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, std::to_string(body.size()));
  }
  ASSERT_TRUE(c.send(post_head("/echo", "Transfer-Encoding: chunked\r\n") +
                     "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  const auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "5");
  EXPECT_EQ(echo_calls_, 3);
}

TEST_F(HttpServerTest, GzipBodyIsRefusedWithoutInflating) {
  start();
  // 100 MiB of zeros in about 100 KB: cpp-httplib alone inflates it all before any size check.
  const std::string bomb = gzip_of_zeros(100u << 20);
  ASSERT_LT(bomb.size(), 1u << 20);
  for (const char* coding : {"gzip", "deflate", "br", "GZIP"}) {
    RawClient c(port_);
    ASSERT_TRUE(c.send(post_head(
        "/echo", "Content-Type: application/json\r\nContent-Encoding: " + std::string(coding) +
                     "\r\nContent-Length: " + std::to_string(bomb.size()) + "\r\n")));
    c.send(bomb, 2000ms);
    const auto r = c.read_response();
    ASSERT_TRUE(r) << coding;
    EXPECT_EQ(r->status, 415) << coding;
    EXPECT_EQ(error_code(*r), "unsupported_media_type");
  }
  EXPECT_EQ(echo_calls_, 0);
  EXPECT_EQ(server_->stats().body_bytes_read, 0u);
}

TEST_F(HttpServerTest, IdentityCodingIsAccepted) {
  start();
  RawClient c(port_);
  ASSERT_TRUE(
      c.send(post_head("/echo", "Content-Encoding: identity\r\nContent-Length: 2\r\n") + "ok"));
  const auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServerTest, ContentLengthWithTransferEncodingIs400) {
  start();
  RawClient c(port_);
  ASSERT_TRUE(c.send(post_head("/echo", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n") +
                     "0\r\n\r\n"));
  const auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(echo_calls_, 0);
  EXPECT_TRUE(c.closed_within(2000ms));
}

TEST_F(HttpFramingTest, TwoContentLengthsAre400WhetherOrNotTheyAgree) {
  start();
  EXPECT_EQ(status_of_post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"), 400);
  EXPECT_EQ(status_of_post("Content-Length: 5\r\nContent-Length: 3\r\n", "hello"), 400);
  EXPECT_EQ(echo_calls_, 0);
}

TEST_F(HttpFramingTest, MalformedContentLengthIs400) {
  start();
  for (const std::string value : {"-1", "0x10", "1 0", "5,5", "+5", "99999999999999999999999"}) {
    EXPECT_EQ(status_of_post("Content-Length: " + value + "\r\n"), 400) << value;
  }
  EXPECT_EQ(echo_calls_, 0);
}

TEST_F(HttpFramingTest, TransferCodingsOtherThanChunkedAre501) {
  start();
  for (const std::string coding : {"gzip", "gzip, chunked", "identity", "chunked, chunked"}) {
    EXPECT_EQ(status_of_post("Transfer-Encoding: " + coding + "\r\n"), 501) << coding;
  }
  EXPECT_EQ(echo_calls_, 0);
}

TEST_F(HttpServerTest, MalformedChunkedBodyIs400AndCloses) {
  start();
  RawClient c(port_);
  ASSERT_TRUE(
      c.send(post_head("/echo", "Transfer-Encoding: chunked\r\n") + "0x3\r\nabc\r\n0\r\n\r\n"));
  const auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(c.closed_within(2000ms));
}

TEST_F(HttpServerTest, ASlowBodyIs408AtItsDeadline) {
  start();
  RawClient c(port_);
  const auto started = Clock::now();
  ASSERT_TRUE(c.send(post_head("/echo", "Content-Length: 100\r\n") + "0123456789"));
  for (int i = 0; i < 8; ++i) {
    std::this_thread::sleep_for(150ms);
    c.send("x");  // a byte now and then: the deadline is for the whole body
  }
  const auto r = c.read_response(3000ms);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  EXPECT_LT(ms_since(started), 2500ms);
  EXPECT_EQ(echo_calls_, 0);
}

TEST_F(HttpServerTest, ABodyForARouteWithoutOneIsRefusedUnread) {
  start();
  const std::string body(100000, 'z');
  for (const std::string& path : {std::string("/nowhere"), std::string("/hello")}) {
    RawClient c(port_);
    ASSERT_TRUE(c.send(post_head(path, "Content-Length: " + std::to_string(body.size()) + "\r\n")));
    const auto r = c.read_response();
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, path == "/hello" ? 405 : 404) << path;
  }
  EXPECT_EQ(server_->stats().body_bytes_read, 0u);
}

TEST_F(HttpServerTest, ARequestRefusedBeforeRoutingHasItsBodyLeftUnread) {
  start();
  const std::string body(500000, 'u');
  RawClient c(port_);
  ASSERT_TRUE(
      c.send(post_head("/guarded", "Content-Length: " + std::to_string(body.size()) + "\r\n")));
  c.send(body, 500ms);
  const auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_TRUE(c.closed_within(2000ms));  // the body was never read: the connection cannot go on
  EXPECT_EQ(server_->stats().body_bytes_read, 0u);
  EXPECT_EQ(echo_calls_, 0);
  // With credentials the same body is read.
  RawClient ok(port_);
  ASSERT_TRUE(ok.send(post_head("/guarded", "Authorization: x\r\nContent-Length: " +
                                                std::to_string(body.size()) + "\r\n") +
                      body));
  const auto r2 = ok.read_response();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->body, std::to_string(body.size()));
}

TEST_F(HttpServerTest, ControlCharactersInThePathAre400AndStillLogged) {
  start();
  const auto r = fetch("/api/tasks/x%0a[2026-01-01]%20[error]%20FORGED");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(error_code(*r), "invalid_request");
  const std::vector<std::string> lines = logged();
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.back().find("GET /api/tasks/x\n[2026-01-01] [error] FORGED 400"),
            std::string::npos);
}

TEST_F(HttpServerTest, ThousandsOfRangesGiveThePlainBody) {
  // A static file, as the dashboard's would be, and an API-like body.
  char dir_template[] = "/tmp/uasyncd-range-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string file_body = big_body().substr(0, 200 * 1024);
  {
    FILE* f = std::fopen((dir + "/app.js").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fwrite(file_body.data(), 1, file_body.size(), f);
    std::fclose(f);
  }
  server_ = std::make_unique<HttpServer>(fast_options());
  server_->Get("/big", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(big_body(), "application/json");
  });
  ASSERT_TRUE(server_->set_mount_point("/static", dir));
  port_ = server_->start("127.0.0.1", 0);
  // Overlapping ranges of 1 KiB: honoured, they would make the response several times the body.
  std::string ranges = "Range: bytes=0-1023";
  for (int i = 1; i < 2700; ++i)
    ranges += ",0-1023";
  ranges += "\r\n";
  for (const auto& [path, plain] : {std::pair{std::string("/big"), big_body()},
                                    std::pair{std::string("/static/app.js"), file_body}}) {
    RawClient c(port_);
    ASSERT_TRUE(c.send(get_request(path, ranges)));
    const auto r = c.read_response();
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->header("content-length"), std::to_string(plain.size())) << path;
    EXPECT_EQ(r->body.size(), plain.size()) << path;
    EXPECT_TRUE(r->body == plain) << path;
    EXPECT_EQ(r->header("content-range"), "") << path;
  }
  // An invalid Range is ignored too, not answered 416.
  RawClient c(port_);
  ASSERT_TRUE(c.send(get_request("/big", "Range: bytes=oops\r\n")));
  const auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  std::remove((dir + "/app.js").c_str());
  rmdir(dir.c_str());
}
