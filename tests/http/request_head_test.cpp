// Finding a request head's end and taking header lines out of it, byte for byte as
// cpp-httplib 0.11.4 reads heads.
#include "uasyncd/api/request_head.hpp"

#include <gtest/gtest.h>

#include <string>

using uasyncd::api::equals_ignoring_case;
using uasyncd::api::HeadScanner;
using uasyncd::api::remove_header_lines;

TEST(HeadScanner, FindsTheBlankLineAfterTheHeaders) {
  HeadScanner s;
  const std::string head = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_EQ(s.scan(head + "BODY"), head.size());
}

TEST(HeadScanner, AHeadWithoutHeaderLinesEndsAtItsBlankLine) {
  HeadScanner s;
  EXPECT_EQ(s.scan("GET / HTTP/1.1\r\n\r\n"), 18u);
}

TEST(HeadScanner, NeedsMoreUntilTheBlankLineArrives) {
  HeadScanner s;
  std::string buf = "GET / HTTP/1.1\r\nHost: x\r\n";
  EXPECT_FALSE(s.scan(buf));
  buf += "\r";
  EXPECT_FALSE(s.scan(buf));
  buf += "\n";
  EXPECT_EQ(s.scan(buf), buf.size());
}

TEST(HeadScanner, ByteByByteGivesTheSameEnd) {
  const std::string head = "POST /x HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n";
  HeadScanner s;
  std::string buf;
  std::optional<std::size_t> end;
  for (const char c : head + "tail") {
    buf += c;
    if (!end) end = s.scan(buf);
  }
  EXPECT_EQ(end, head.size());
}

TEST(HeadScanner, ABareLfLineIsNotTheEnd) {
  // cpp-httplib skips header lines that do not end with CRLF; only "\r\n" ends the head.
  HeadScanner s;
  EXPECT_FALSE(s.scan("GET / HTTP/1.1\r\n\nX: y\r\n"));
}

TEST(HeadScanner, TheRequestLineIsNeverTheEnd) {
  HeadScanner s;
  EXPECT_FALSE(s.scan("\r\n"));
  EXPECT_EQ(s.scan("\r\n\r\n"), 4u);
}

TEST(RemoveHeaderLines, RemovesEveryLineWithTheNameInAnyCase) {
  std::string buf = "GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\nrAnGe: bytes=2-3\r\n\r\nrest";
  const std::size_t head = buf.size() - 4;
  const std::size_t left = remove_header_lines(buf, 0, head, "range");
  EXPECT_EQ(buf, "GET / HTTP/1.1\r\nHost: x\r\n\r\nrest");
  EXPECT_EQ(left, buf.size() - 4);
}

TEST(RemoveHeaderLines, KeepsLinesWhoseNameOnlyStartsAlike) {
  std::string buf = "GET / HTTP/1.1\r\nRange-X: 1\r\nRange : 2\r\nX-Range: 3\r\n\r\n";
  const std::string before = buf;
  EXPECT_EQ(remove_header_lines(buf, 0, buf.size(), "range"), before.size());
  EXPECT_EQ(buf, before);
}

TEST(RemoveHeaderLines, NeverTouchesTheRequestLineOrBytesAfterTheHead) {
  std::string buf = "xx Range: /a HTTP/1.1\r\nRange: bytes=1-2\r\n\r\nRange: body\r\n";
  const std::size_t head = buf.find("\r\n\r\n") + 4;
  const std::size_t left = remove_header_lines(buf, 3, head - 3, "Range");
  EXPECT_EQ(buf, "xx Range: /a HTTP/1.1\r\n\r\nRange: body\r\n");
  EXPECT_EQ(left, std::string("Range: /a HTTP/1.1\r\n\r\n").size());
}

TEST(EqualsIgnoringCase, AsciiOnly) {
  EXPECT_TRUE(equals_ignoring_case("Content-Length", "content-LENGTH"));
  EXPECT_FALSE(equals_ignoring_case("chunked", "chunke"));
  EXPECT_FALSE(equals_ignoring_case("[", "{"));  // 0x5b and 0x7b differ only by 0x20
}
