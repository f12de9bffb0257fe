// ChunkedMeter: a chunked body is followed to its end, refused at its limit before the bytes
// past it are handed over, and refused when malformed.
#include "uasyncd/api/chunked_meter.hpp"

#include <gtest/gtest.h>

#include <string>

using uasyncd::api::ChunkedMeter;
using Verdict = ChunkedMeter::Verdict;

namespace {

std::size_t feed_all(ChunkedMeter& m, const std::string& bytes) {
  return m.feed(bytes.data(), bytes.size());
}

}  // namespace

TEST(ChunkedMeter, FollowsAWellFormedBodyToItsEnd) {
  ChunkedMeter m(100);
  const std::string body = "5\r\nhello\r\n1;ext=1\r\n!\r\n0\r\n\r\n";
  EXPECT_EQ(feed_all(m, body + "GET / HTTP/1.1\r\n"), body.size());
  EXPECT_EQ(m.verdict(), Verdict::done);
  EXPECT_EQ(m.payload(), 6u);
}

TEST(ChunkedMeter, GivesTheSameResultByteByByte) {
  ChunkedMeter m(100);
  const std::string body = "A\r\n0123456789\r\n0\r\n\r\n";
  for (const char c : body) {
    ASSERT_EQ(m.verdict(), Verdict::more);
    ASSERT_EQ(m.feed(&c, 1), 1u);
  }
  EXPECT_EQ(m.verdict(), Verdict::done);
  EXPECT_EQ(m.payload(), 10u);
}

TEST(ChunkedMeter, RefusesAChunkDeclaredPastTheLimitBeforeItsData) {
  ChunkedMeter m(1000);
  const std::string start = "3e9\r\n";  // 1001
  EXPECT_LT(feed_all(m, start), start.size());
  EXPECT_EQ(m.verdict(), Verdict::too_large);
  EXPECT_EQ(m.payload(), 0u);
}

TEST(ChunkedMeter, AcceptsExactlyTheLimit) {
  ChunkedMeter m(4);
  const std::string body = "2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n";
  EXPECT_EQ(feed_all(m, body), body.size());
  EXPECT_EQ(m.verdict(), Verdict::done);
}

TEST(ChunkedMeter, RefusesTheChunkThatWouldPassTheLimit) {
  ChunkedMeter m(4);
  const std::string body = "2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n";
  const std::size_t taken = feed_all(m, body);
  EXPECT_EQ(m.verdict(), Verdict::too_large);
  EXPECT_EQ(m.payload(), 2u);
  EXPECT_LE(taken, std::string("2\r\nab\r\n3").size());
}

TEST(ChunkedMeter, RefusesHugeSizesWithoutOverflow) {
  ChunkedMeter m(1 << 20);
  EXPECT_LT(feed_all(m, "fffffffffffffffffffffff\r\n"), 10u);
  EXPECT_EQ(m.verdict(), Verdict::too_large);
}

TEST(ChunkedMeter, RefusesMalformedFraming) {
  for (const std::string bad : {"x\r\n", "\r\n", "0x5\r\nhello\r\n", "5\r\nhelloXX", "5\nhello",
                                "0\r\nTrailer: x\r\n\r\n", "+5\r\nhello\r\n"}) {
    ChunkedMeter m(100);
    feed_all(m, bad);
    EXPECT_EQ(m.verdict(), Verdict::malformed) << bad;
  }
}

TEST(ChunkedMeter, BoundsTheChunkSizeLine) {
  ChunkedMeter m(100);
  const std::string line = "1;" + std::string(ChunkedMeter::kMaxLine, 'x');
  feed_all(m, line);
  EXPECT_EQ(m.verdict(), Verdict::malformed);
}

TEST(ChunkedMeter, LeadingZerosAreNotASizeLimitTrick) {
  ChunkedMeter m(10);
  const std::string body = "0000000000000000000005\r\nhello\r\n0\r\n\r\n";
  EXPECT_EQ(feed_all(m, body), body.size());
  EXPECT_EQ(m.verdict(), Verdict::done);
}
