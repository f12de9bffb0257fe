// Connections: keep-alive and pipelining, idle timeouts, event streams, many slow and waiting
// clients at once, and a stop that does not wait for slow clients.
#include "server_fixture.hpp"

TEST_F(HttpServerTest, ManyRequestsShareOneConnection) {
  start();
  RawClient c(port_);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(c.send(get_request("/hello")));
    const auto r = c.read_response();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->body, "hello");
  }
  EXPECT_EQ(server_->stats().accepted, 1u);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  start();
  RawClient c(port_);
  std::string burst;
  for (int i = 0; i < 10; ++i)
    burst += get_request(i % 2 == 0 ? "/hello" : "/healthz");
  burst += "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc" + get_request("/hello");
  ASSERT_TRUE(c.send(burst));
  for (int i = 0; i < 10; ++i) {
    const auto r = c.read_response();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->body, i % 2 == 0 ? "hello" : R"({"status":"ok"})") << i;
  }
  const auto echo = c.read_response();
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->body, "3");
  const auto last = c.read_response();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->body, "hello");
}

TEST_F(HttpServerTest, TheLastRequestAllowedOnAConnectionClosesIt) {
  HttpServerOptions o = fast_options();
  o.max_requests_per_connection = 3;
  start(o);
  RawClient c(port_);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.send(get_request("/hello")));
    const auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("connection"), i == 2 ? "close" : "") << i;
  }
  EXPECT_TRUE(c.closed_within(1000ms));
}

TEST_F(HttpServerTest, ConnectionCloseIsHonoured) {
  start();
  RawClient c(port_);
  ASSERT_TRUE(c.send(get_request("/hello", "Connection: close\r\n")));
  const auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.closed_within(1000ms));
}

TEST_F(HttpServerTest, IdleConnectionsCloseAfterTheIdleTimeout) {
  start();
  RawClient c(port_);
  ASSERT_TRUE(c.send(get_request("/hello")));
  ASSERT_TRUE(c.read_response());
  const auto t = Clock::now();
  EXPECT_TRUE(c.closed_within(3000ms));
  EXPECT_GE(ms_since(t), 800ms);
  EXPECT_TRUE(eventually([this] { return server_->stats().open_connections == 0; }));
}

TEST_F(HttpServerTest, EventStreamsStillStream) {
  start();
  RawClient c(port_);
  ASSERT_TRUE(c.send(get_request("/sse")));
  const auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("transfer-encoding"), "chunked");
  EXPECT_EQ(r->body, "data: x\n\ndata: x\n\ndata: x\n\n");
  ASSERT_TRUE(c.send(get_request("/hello")));
  EXPECT_TRUE(c.read_response());
}

TEST_F(HttpServerTest, ALargeResponseReachesASlowReaderWithoutHoldingAWorker) {
  HttpServerOptions o = fast_options();
  o.worker_threads = 1;
  // A worker held by the slow reader would be freed only when the write times out: 30 s, so a
  // loaded machine's slowness (2 s seen under TSan) cannot be mistaken for it, nor hide it.
  o.write_timeout = 30000ms;
  start(o);
  RawClient slow(port_);
  ASSERT_TRUE(slow.send(get_request("/big")));
  std::this_thread::sleep_for(100ms);  // it reads nothing for now
  const auto t = Clock::now();
  const auto r = fetch("/hello", 10000ms);
  ASSERT_TRUE(r);
  EXPECT_LT(ms_since(t), 10000ms);
  const auto big = slow.read_response();
  ASSERT_TRUE(big);
  EXPECT_EQ(big->body.size(), big_body().size());
}

TEST_F(HttpServerTest, HundredSlowlorisAndTwoHundredLongPollsDoNotDelayOthers) {
  HttpServerOptions o = fast_options();
  o.head_timeout = 30000ms;  // they stay for the whole test
  start(o);
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 100; ++i) {
    clients.push_back(std::make_unique<RawClient>(port_));
    ASSERT_TRUE(clients.back()->send("GET /hello HTTP/1.1\r\nX-Slow: 1\r\n"));
  }
  for (int i = 0; i < 200; ++i) {
    clients.push_back(std::make_unique<RawClient>(port_));
    ASSERT_TRUE(clients.back()->send(get_request("/wait")));
  }
  ASSERT_TRUE(await_parked(200));
  for (int round = 0; round < 3; ++round) {
    for (const std::string path : {"/healthz", "/hello"}) {
      const auto t = Clock::now();
      const auto r = fetch(path);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 200);
      EXPECT_LT(ms_since(t), kPrompt) << path;
    }
    RawClient post(port_);
    const auto t = Clock::now();
    ASSERT_TRUE(post.send("POST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"));
    const auto r = post.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "2");
    EXPECT_LT(ms_since(t), kPrompt);
  }
  // The slow and the waiting are all still there (the short-lived ones are gone).
  EXPECT_TRUE(eventually([this] { return server_->stats().open_connections == 300; }));
}

TEST_F(HttpServerTest, StopWithSlowClientsReturnsWithinTheGrace) {
  HttpServerOptions o = fast_options();
  o.head_timeout = 30000ms;
  o.idle_timeout = 30000ms;
  start(o);
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 100; ++i) {
    clients.push_back(std::make_unique<RawClient>(port_));
    ASSERT_TRUE(clients.back()->send("GET /hello HTTP/1.1\r\n"));
  }
  for (int i = 0; i < 10; ++i) {  // idle keep-alive connections
    clients.push_back(std::make_unique<RawClient>(port_));
    ASSERT_TRUE(clients.back()->send(get_request("/hello")));
    ASSERT_TRUE(clients.back()->read_response());
  }
  RawClient in_flight(port_);  // a handler that runs past the grace
  ASSERT_TRUE(in_flight.send(get_request("/slow?ms=1500")));
  RawClient body(port_);  // a body that never comes
  ASSERT_TRUE(body.send("POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\n"));
  std::this_thread::sleep_for(100ms);
  const auto t = Clock::now();
  server_->stop(500ms);
  // The handler's own sleep is the only thing waited for past the grace.
  EXPECT_LT(ms_since(t), 1500ms + 1000ms);
  for (auto& c : clients)
    EXPECT_TRUE(c->closed_within(500ms));
  RawClient late(port_);
  EXPECT_FALSE(late.connected() && late.send(get_request("/hello")) && late.read_response(500ms));
}

TEST_F(HttpServerTest, StopWithOnlySlowClientsIsPrompt) {
  HttpServerOptions o = fast_options();
  o.head_timeout = 30000ms;
  start(o);
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 100; ++i) {
    clients.push_back(std::make_unique<RawClient>(port_));
    ASSERT_TRUE(clients.back()->send("GET /hello HTTP/1.1\r\nX-Slow: 1\r\n"));
  }
  std::this_thread::sleep_for(50ms);
  const auto t = Clock::now();
  server_->stop(10000ms);
  EXPECT_LT(ms_since(t), 1000ms);  // nothing was in flight: the grace is not waited out
}

TEST_F(HttpServerTest, EveryResponseIsLogged) {
  start();
  ASSERT_TRUE(fetch("/hello"));
  ASSERT_TRUE(fetch("/nowhere"));
  RawClient c(port_);
  ASSERT_TRUE(c.send(get_request("/wait")));
  ASSERT_TRUE(await_parked(1));
  parked()[0]->complete(text(200, "ok"));
  ASSERT_TRUE(c.read_response());
  RawClient big(port_);
  ASSERT_TRUE(big.send("GET /x HTTP/1.1\r\n" + std::string(70000, 'h')));
  ASSERT_TRUE(big.read_response());
  const std::vector<std::string> lines = logged();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "GET /hello 200");
  EXPECT_EQ(lines[1], "GET /nowhere 404");
  EXPECT_EQ(lines[2], "GET /wait 200");
  EXPECT_EQ(lines[3], "GET /x 431");
}
