// The pieces behind exec output and SSE streams: the capped capture with its tail, the UTF-8
// boundary rule for live chunks, and the bounded channel to a stream's HTTP thread.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "uasyncd/bridge/sse_channel.hpp"
#include "uasyncd/job/exec_output.hpp"

namespace api = uasyncd::server;
using Clock = std::chrono::steady_clock;

TEST(Capture, KeepsUpToTheCapAndCountsEverything) {
  api::StreamCapture cap;
  const std::string block(700 * 1024, 'a');
  EXPECT_EQ(cap.append(block).size(), block.size());
  EXPECT_FALSE(cap.truncated());
  EXPECT_EQ(cap.append(block).size(), api::kOutputCap - block.size());  // only what fits
  EXPECT_TRUE(cap.append("zz").empty());
  EXPECT_EQ(cap.kept().size(), api::kOutputCap);
  EXPECT_EQ(cap.bytes(), 2 * block.size() + 2);
  EXPECT_TRUE(cap.truncated());
}

TEST(Capture, TailIsTheLastBytesWrittenEvenPastTheCap) {
  api::StreamCapture cap;
  cap.append(std::string(api::kOutputCap, 'a'));
  cap.append(std::string(api::kTailBytes - 3, 'b'));
  cap.append("end");
  const std::string tail = cap.tail();
  ASSERT_EQ(tail.size(), api::kTailBytes);
  EXPECT_EQ(tail.substr(tail.size() - 4), "bend");
  EXPECT_EQ(tail.find('a'), std::string::npos);
  api::StreamCapture small;
  small.append("hi\n");
  EXPECT_EQ(small.tail(), "hi\n");
}

TEST(Utf8, ASplitSequenceIsHeldBack) {
  const std::string e_acute = "\xc3\xa9";   // é
  const std::string euro = "\xe2\x82\xac";  // €
  EXPECT_EQ(api::utf8_complete_prefix("abc"), 3u);
  EXPECT_EQ(api::utf8_complete_prefix("ab" + e_acute), 4u);
  EXPECT_EQ(api::utf8_complete_prefix(std::string("ab").append(e_acute.substr(0, 1))), 2u);
  EXPECT_EQ(api::utf8_complete_prefix(std::string("x").append(euro.substr(0, 2))), 1u);
  EXPECT_EQ(api::utf8_complete_prefix("x" + euro), 4u);
  EXPECT_EQ(api::utf8_complete_prefix(""), 0u);
}

TEST(SseChannel, TakeReturnsWhatWasPushedThenTheClose) {
  api::SseChannel c;
  EXPECT_TRUE(c.push("a"));
  EXPECT_TRUE(c.push("b"));
  api::SseChannel::Taken t = c.take(Clock::now());
  EXPECT_EQ(t.items, (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(t.closed);
  c.close();
  EXPECT_TRUE(c.take(Clock::now() + std::chrono::seconds(5)).closed);  // at once, not in 5 s
}

TEST(SseChannel, ASlowReaderLosesItemsPastTheBound) {
  api::SseChannel c(10);
  c.push("12345");
  c.push("67890");
  c.push("x");  // over 10 bytes: dropped and counted
  api::SseChannel::Taken t = c.take(Clock::now());
  EXPECT_EQ(t.items.size(), 2u);
  EXPECT_EQ(t.lost, 1u);
  c.push("y");  // room again once taken
  EXPECT_EQ(c.take(Clock::now()).items.size(), 1u);
}

TEST(SseChannel, AbandonRefusesPushesAndWakesTheReader) {
  api::SseChannel c;
  std::thread reader([&] {
    const auto t0 = Clock::now();
    EXPECT_TRUE(c.take(t0 + std::chrono::seconds(10)).closed);
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(5));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  c.abandon();
  reader.join();
  EXPECT_FALSE(c.push("late"));
  EXPECT_TRUE(c.abandoned());
}
