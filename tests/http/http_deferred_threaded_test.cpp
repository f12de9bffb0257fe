// Deferred responses: a long-poll holds no worker thread; it is answered from any thread, times
// out through its owner, is dropped when its client leaves, and is capped.
#include "server_fixture.hpp"

TEST_F(HttpServerTest, ADeferredRequestIsAnsweredFromAnotherThreadAndKeepsItsConnection) {
  start();
  RawClient c(port_);
  ASSERT_TRUE(c.send(get_request("/wait")));
  ASSERT_TRUE(await_parked(1));
  EXPECT_FALSE(c.read_response(100ms));  // still waiting
  std::thread completer([d = parked()[0]] { EXPECT_TRUE(d->complete(text(200, "done"))); });
  completer.join();
  const auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "done");
  EXPECT_NE(r->header("keep-alive"), "");
  EXPECT_FALSE(parked()[0]->pending());
  EXPECT_FALSE(parked()[0]->complete(text(200, "twice")));
  // The same connection serves the next request.
  ASSERT_TRUE(c.send(get_request("/hello")));
  const auto next = c.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "hello");
  EXPECT_EQ(server_->stats().deferred, 0u);
}

TEST_F(HttpServerTest, ParkedRequestsHoldNoWorkerThread) {
  HttpServerOptions o = fast_options();
  o.worker_threads = 1;
  start(o);
  std::vector<std::unique_ptr<RawClient>> waiting;
  for (int i = 0; i < 20; ++i) {
    waiting.push_back(std::make_unique<RawClient>(port_));
    ASSERT_TRUE(waiting.back()->send(get_request("/wait")));
  }
  ASSERT_TRUE(await_parked(20));
  const auto t = Clock::now();
  const auto r = fetch("/hello");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_LT(ms_since(t), kPrompt);
  for (const auto& d : parked())
    d->complete(text(200, "ok"));
  for (auto& c : waiting) {
    const auto answer = c->read_response();
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->body, "ok");
  }
}

TEST_F(HttpServerTest, AnAnswerGivenBeforeTheHandlerReturnsIsWritten) {
  start();
  RawClient c(port_);
  ASSERT_TRUE(c.send(get_request("/wait?now=1")));
  const auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "answered at once");
  ASSERT_TRUE(c.send(get_request("/hello")));
  EXPECT_TRUE(c.read_response());
}

TEST_F(HttpServerTest, ATimedOutDeferredRequestIsAnsweredByItsOwner) {
  start();
  const auto t = Clock::now();
  const auto r = fetch("/wait?ms=200");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(r->body, "timed out");
  EXPECT_GE(ms_since(t), 180ms);
  EXPECT_EQ(timeouts_, 1);
  EXPECT_EQ(gone_, 0);
}

TEST_F(HttpServerTest, ADeferredRequestWhoseClientLeavesIsDropped) {
  start();
  {
    RawClient c(port_);
    ASSERT_TRUE(c.send(get_request("/wait")));
    ASSERT_TRUE(await_parked(1));
  }  // the client closes its connection
  const auto deadline = Clock::now() + 2000ms;
  while (gone_ == 0 && Clock::now() < deadline)
    std::this_thread::sleep_for(2ms);
  EXPECT_EQ(gone_, 1);
  EXPECT_FALSE(parked()[0]->pending());
  EXPECT_FALSE(parked()[0]->complete(text(200, "late")));
  EXPECT_EQ(server_->stats().deferred, 0u);
  EXPECT_TRUE(eventually([this] { return server_->stats().open_connections == 0; }));
}

TEST_F(HttpServerTest, DeferredRequestsAreCapped) {
  HttpServerOptions o = fast_options();
  o.max_deferred = 3;
  start(o);
  std::vector<std::unique_ptr<RawClient>> waiting;
  for (int i = 0; i < 3; ++i) {
    waiting.push_back(std::make_unique<RawClient>(port_));
    ASSERT_TRUE(waiting.back()->send(get_request("/wait")));
  }
  ASSERT_TRUE(await_parked(3));
  const auto refused = fetch("/wait");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  // Answering one frees its place.
  // The first parked request is any one of the three clients': exactly one gets the answer.
  parked()[0]->complete(text(200, "ok"));
  int answered = 0;
  for (auto& w : waiting) {
    if (w->read_response(std::chrono::milliseconds(2000))) ++answered;
  }
  EXPECT_EQ(answered, 1);
  RawClient again(port_);
  ASSERT_TRUE(again.send(get_request("/wait")));
  EXPECT_TRUE(await_parked(4));
}

TEST_F(HttpServerTest, StopTellsParkedRequestsTheirTimeIsUp) {
  start();
  RawClient c(port_);
  ASSERT_TRUE(c.send(get_request("/wait")));
  ASSERT_TRUE(await_parked(1));
  std::thread stopper([this] { server_->stop(2000ms); });
  const auto r = c.read_response(3000ms);
  stopper.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);  // the owner's answer to on_timeout
  EXPECT_TRUE(c.closed_within(1000ms));
}

TEST_F(HttpServerTest, AParkedRequestWhoseOwnerNeverAnswersIsDroppedAfterTheGrace) {
  start();
  RawClient c(port_);
  const auto t = Clock::now();
  ASSERT_TRUE(c.send(get_request("/mute")));
  EXPECT_TRUE(c.closed_within(3000ms));
  EXPECT_GE(ms_since(t), 500ms);  // timeout 100 ms + answer_grace 500 ms
}
