// The text of cluster requests and answers (NOTIFY uasyncd_control): what one instance formats
// the other parses back, and anything else anyone could NOTIFY is refused.
#include "cluster_requests.hpp"

#include <gtest/gtest.h>

namespace srv = uasyncd::server;

TEST(ClusterRequests, ARequestReadsBackAsSent) {
  using Kind = srv::RemoteRequest::Kind;
  const std::string timeout = srv::format_request({7, {Kind::timeout, 42, 1500, 3, 99}});
  EXPECT_EQ(timeout, "7 timeout 42 1500 3 99");
  const std::optional<srv::OwnerRequest> r = srv::parse_request(timeout);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->owner, 7);
  EXPECT_EQ(r->request.kind, Kind::timeout);
  EXPECT_EQ(r->request.id, 42u);
  EXPECT_EQ(r->request.value, 1500);
  EXPECT_EQ(r->request.from, 3);
  EXPECT_EQ(r->request.nonce, 99u);
  const std::string cancel = srv::format_request({7, {Kind::cancel_step, 42, 2, 3, 100}});
  EXPECT_EQ(cancel, "7 cancel_step 42 2 3 100");
  const std::optional<srv::OwnerRequest> c = srv::parse_request(cancel);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->request.kind, Kind::cancel_step);
  EXPECT_EQ(c->request.value, 2);
  EXPECT_EQ(c->request.nonce, 100u);
}

TEST(ClusterRequests, AnAnswerReadsBackWithItsMessageOnOneLine) {
  const std::string text = srv::format_answer({3, 99, "finished", "t42 ended\nat 12:00"});
  EXPECT_EQ(text, "3 answer 99 finished t42 ended at 12:00");
  const std::optional<srv::RequestAnswer> a = srv::parse_answer(text);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->to, 3);
  EXPECT_EQ(a->nonce, 99u);
  EXPECT_EQ(a->code, "finished");
  EXPECT_EQ(a->message, "t42 ended at 12:00");
  const std::optional<srv::RequestAnswer> ok = srv::parse_answer("3 answer 100 ok");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->code, "ok");
  EXPECT_EQ(ok->message, "");
}

TEST(ClusterRequests, AMessageIsCutToAThousandBytes) {
  const std::string text = srv::format_answer({1, 2, "refused", std::string(5000, 'x')});
  EXPECT_EQ(text.size(), std::string("1 answer 2 refused ").size() + 1000);
}

TEST(ClusterRequests, OtherTextIsNoRequestAndNoAnswer) {
  for (const char* bad :
       {"", "7", "7 timeout", "7 timeout 42 1500 3", "7 timeout 42 1500 3 99 extra",
        "7 timeout 42 -5 3 99", "7 timeout x 1500 3 99", "7  timeout 42 1500 3 99",
        "7 timeout 42 1500 3 99999999999999999999999", "7 cancel 42", "0 watch",
        "7 timeout 42 1500 3 99\n", "7 cancel_step 42 -1 3 99", "7 cancel-step 42 1 3 99",
        "7 Timeout 42 1500 3 99"}) {
    EXPECT_FALSE(srv::parse_request(bad)) << '"' << bad << '"';
  }
  for (const char* bad :
       {"", "3 answer", "3 answer 99", "3 answer 99 ", "3 answer 99 OK", "3 answer 99 fin-ished",
        "3 answer x ok", "3 answers 99 ok", "3 answer 99 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}) {
    EXPECT_FALSE(srv::parse_answer(bad)) << '"' << bad << '"';
  }
}
