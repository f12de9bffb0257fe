// What the client accepts as input before it talks to anyone: the daemon's address (--url), the
// names of schedules and queues, and the bytes of a Server-Sent Events stream, split anywhere by
// the network.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "uasyncd/cli/daemon_url.hpp"
#include "uasyncd/cli/exit_codes.hpp"
#include "uasyncd/cli/resource_name.hpp"
#include "uasyncd/cli/sse_parser.hpp"

namespace {

using uasyncd::cli::CliError;
using uasyncd::cli::parse_daemon_url;
using uasyncd::cli::resource_name_validator;
using uasyncd::cli::SseEvent;
using uasyncd::cli::SseParser;

TEST(DaemonUrl, AcceptsHostAndPortWithOrWithoutSchemeAndSlash) {
  for (const char* text : {"http://127.0.0.1:8080", "http://127.0.0.1:8080/", "127.0.0.1:8080"}) {
    const auto url = parse_daemon_url(text);
    EXPECT_EQ(url.scheme, "http") << text;
    EXPECT_EQ(url.host, "127.0.0.1") << text;
    EXPECT_EQ(url.port, 8080) << text;
    EXPECT_EQ(url.text(), "http://127.0.0.1:8080") << text;
  }
}

TEST(DaemonUrl, DefaultPortsAndIpv6) {
  EXPECT_EQ(parse_daemon_url("http://uasyncd.internal").port, 80);
  EXPECT_EQ(parse_daemon_url("https://uasyncd.internal/").port, 443);
  const auto v6 = parse_daemon_url("http://[::1]:9000");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 9000);
  EXPECT_EQ(v6.text(), "http://[::1]:9000");
}

TEST(DaemonUrl, HttpsIsAcceptedBecauseCppHttplibHasTls) {
  // Debian's cpp-httplib is built with OpenSSL; the client uses its SSLClient.
  EXPECT_EQ(parse_daemon_url("https://127.0.0.1:8443").scheme, "https");
}

TEST(DaemonUrl, RefusesWhatItCannotUseWithAUsageError) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"ftp://host:21", "scheme"},         {"http://host:8080/api", "no path"},
      {"http://host:8080?x=1", "no path"}, {"http://user:pw@host:8080", "--token"},
      {"http://host:0", "port"},           {"http://host:65536", "port"},
      {"http://host:80x", "port"},         {"http://host:", "no port"},
      {"http://:8080", "no host"},         {"http://[::1:8080", "']'"},
      {"http://ho st:80", "host"},         {"http://host\x1b[31m:80", "host"},
  };
  for (const auto& [text, why] : bad) {
    try {
      parse_daemon_url(text);
      ADD_FAILURE() << "accepted " << text;
    } catch (const CliError& e) {
      EXPECT_EQ(e.code(), uasyncd::cli::kExitUsage) << text;
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << text << ": " << e.what();
    }
  }
}

TEST(ResourceName, TakesWhatTheDaemonTakesForSchedulesAndQueues) {
  for (const std::string& name : {std::string("nightly"), std::string("a"), std::string(128, 'x'),
                                  std::string("build.arm64_v8-2")}) {
    EXPECT_TRUE(uasyncd::cli::valid_resource_name(name)) << name;
  }
  for (const std::string& name :
       {std::string(), std::string(129, 'x'), std::string("a b"), std::string("a/b"),
        std::string("caf\xc3\xa9"), std::string("x\x1b[2J"), std::string("~home")}) {
    EXPECT_FALSE(uasyncd::cli::valid_resource_name(name)) << name;
  }
}

TEST(ResourceName, TheValidatorSaysWhichNameAndWhatANameIs) {
  const CLI::Validator check = resource_name_validator("queue");
  std::string good = "build";
  EXPECT_EQ(check(good), "");
  std::string bad = "a b\x1b[31m";
  EXPECT_EQ(check(bad), "queue name \"a b?[31m\": 1 to 128 characters of A-Z a-z 0-9 . _ -");
}

std::vector<SseEvent> feed_in_pieces(const std::string& stream, std::size_t piece) {
  SseParser parser;
  std::vector<SseEvent> events;
  for (std::size_t i = 0; i < stream.size(); i += piece) {
    parser.feed(std::string_view(stream).substr(i, piece), [&](const SseEvent& e) {
      events.push_back(e);
      return true;
    });
  }
  return events;
}

TEST(SseParser, SplitsEventsWhereverTheNetworkSplitsTheBytes) {
  const std::string stream =
      ": connected\n\n"
      "event: output\ndata: {\"data\":\"a\"}\n\n"
      "data: [1,\r\ndata: 2]\r\n\r\n"
      "event: end\rdata: {}\r\r";
  for (std::size_t piece : {std::size_t{1}, std::size_t{2}, std::size_t{7}, stream.size()}) {
    const std::vector<SseEvent> events = feed_in_pieces(stream, piece);
    ASSERT_EQ(events.size(), 4u) << "pieces of " << piece;
    EXPECT_TRUE(events[0].comment);
    EXPECT_EQ(events[0].data, "connected");
    EXPECT_EQ(events[1].event, "output");
    EXPECT_EQ(events[1].data, "{\"data\":\"a\"}");
    EXPECT_EQ(events[2].event, "");
    EXPECT_EQ(events[2].data, "[1,\n2]");  // data lines are joined with '\n'
    EXPECT_EQ(events[3].event, "end");
    EXPECT_EQ(events[3].data, "{}");
  }
}

TEST(SseParser, AnEventWithoutDataIsNotDispatchedAndUnknownFieldsAreIgnored) {
  const std::vector<SseEvent> events =
      feed_in_pieces("event: nothing\n\nid: 7\nretry: 10\nfoo\ndata\n\n", 3);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event, "");  // the event name belonged to the discarded event
  EXPECT_EQ(events[0].data, "");
}

TEST(SseParser, StopsWhenTheHandlerSaysSo) {
  SseParser parser;
  int seen = 0;
  const bool went_on = parser.feed("data: 1\n\ndata: 2\n\n", [&](const SseEvent&) {
    ++seen;
    return false;
  });
  EXPECT_FALSE(went_on);
  EXPECT_EQ(seen, 1);
}

TEST(SseParser, AnOversizedEventIsRefusedNotBuffered) {
  SseParser parser(1024);
  const std::string line = "data: " + std::string(4096, 'x');
  EXPECT_THROW(parser.feed(line, [](const SseEvent&) { return true; }), CliError);
  SseParser lines(1024);
  std::string many;
  for (int i = 0; i < 100; ++i)
    many += "data: " + std::string(20, 'y') + "\n";
  EXPECT_THROW(lines.feed(many, [](const SseEvent&) { return true; }), CliError);
}

}  // namespace
