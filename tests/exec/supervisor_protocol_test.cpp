// The daemon-supervisor frames: every message round-trips, and a malformed stream is refused
// (ProtocolError) without reading past what it holds or allocating what it claims.
#include <gtest/gtest.h>

#include <cstring>

#include "uasyncd/exec/supervisor_protocol.hpp"

namespace proto = uasyncd::exec::protocol;

namespace {

proto::Frame only_frame(const std::string& bytes) {
  proto::FrameReader r;
  r.append(bytes.data(), bytes.size());
  std::optional<proto::Frame> f = r.next();
  EXPECT_TRUE(f);
  EXPECT_FALSE(r.next());
  EXPECT_EQ(r.buffered(), 0u);
  return f.value_or(proto::Frame{});
}

std::string with_length(std::uint32_t length, const std::string& rest) {
  std::string s(4, '\0');
  std::memcpy(s.data(), &length, 4);
  return s + rest;
}

}  // namespace

TEST(SupervisorProtocol, SpawnRoundTrips) {
  proto::SpawnRequest m{
      42, {"sh", "-c", std::string("x\xff y", 4)}, "/tmp", {{"A", "1"}, {"B", ""}}};
  const proto::Frame f = only_frame(proto::encode(m));
  ASSERT_EQ(f.type, proto::Type::spawn);
  const proto::SpawnRequest back = proto::decode_spawn(f.payload);
  EXPECT_EQ(back.id, 42u);
  EXPECT_EQ(back.argv, m.argv);
  EXPECT_EQ(back.cwd, "/tmp");
  EXPECT_EQ(back.env, m.env);
}

TEST(SupervisorProtocol, SmallMessagesRoundTrip) {
  EXPECT_EQ(proto::decode_started(only_frame(proto::encode(proto::Started{7, 1234})).payload).pid,
            1234);
  EXPECT_EQ(
      proto::decode_exited(only_frame(proto::encode(proto::Exited{7, 9})).payload).wait_status, 9);
  EXPECT_EQ(
      proto::decode_spawn_failed(only_frame(proto::encode(proto::SpawnFailed{8, 2})).payload).id,
      8u);
  EXPECT_EQ(
      proto::decode_signal(only_frame(proto::encode(proto::SignalRequest{9, 15})).payload).sig, 15);
  EXPECT_EQ(proto::decode_hello(only_frame(proto::encode(proto::Hello{})).payload).version,
            proto::kVersion);
  EXPECT_EQ(only_frame(proto::encode_kill_all()).type, proto::Type::kill_all);
}

TEST(SupervisorProtocol, FramesArriveByteByByte) {
  const std::string a = proto::encode(proto::Started{1, 10});
  const std::string b = proto::encode(proto::Exited{1, 0});
  const std::string both = a + b;
  proto::FrameReader r;
  std::vector<proto::Type> types;
  for (char c : both) {
    r.append(&c, 1);
    while (std::optional<proto::Frame> f = r.next())
      types.push_back(f->type);
  }
  EXPECT_EQ(types, (std::vector<proto::Type>{proto::Type::started, proto::Type::exited}));
}

TEST(SupervisorProtocol, BadLengthsAreRefused) {
  proto::FrameReader zero;
  const std::string z = with_length(0, "");
  zero.append(z.data(), z.size());
  EXPECT_THROW(zero.next(), proto::ProtocolError);
  proto::FrameReader huge;
  const std::string h = with_length(static_cast<std::uint32_t>(proto::kMaxFrame + 1), "x");
  huge.append(h.data(), h.size());
  EXPECT_THROW(huge.next(), proto::ProtocolError);
}

TEST(SupervisorProtocol, TruncatedOrPaddedPayloadsAreRefused) {
  std::string spawn = only_frame(proto::encode(proto::SpawnRequest{1, {"true"}, "", {}})).payload;
  EXPECT_THROW(proto::decode_spawn(spawn.substr(0, spawn.size() - 1)), proto::ProtocolError);
  EXPECT_THROW(proto::decode_spawn(spawn + "x"), proto::ProtocolError);
  EXPECT_THROW(proto::decode_started("abc"), proto::ProtocolError);
}

TEST(SupervisorProtocol, CountsBeyondThePayloadAreRefusedWithoutAllocating) {
  // An argv count of four billion in a 20-byte payload.
  std::string payload(8, '\0');
  const std::uint32_t count = 0xffffffffu;
  payload.append(reinterpret_cast<const char*>(&count), 4);
  payload.append(8, '\0');
  EXPECT_THROW(proto::decode_spawn(payload), proto::ProtocolError);
  // And a spawn without a program.
  std::string empty(8, '\0');
  empty.append(4, '\0');
  EXPECT_THROW(proto::decode_spawn(empty), proto::ProtocolError);
}
