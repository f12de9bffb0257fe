// escape_for_log: one log line per request, whatever bytes a client puts in its fields.
#include "uasyncd/api/log_escape.hpp"

#include <gtest/gtest.h>

using uasyncd::api::escape_for_log;

TEST(LogEscape, KeepsPrintableTextAndUtf8) {
  EXPECT_EQ(escape_for_log("/api/tasks/t12?x=1 y"), "/api/tasks/t12?x=1 y");
  EXPECT_EQ(escape_for_log("t\xc3\xa9l\xc3\xa9"), "t\xc3\xa9l\xc3\xa9");
  EXPECT_EQ(escape_for_log(""), "");
}

TEST(LogEscape, EscapesNewlinesSoNoLineCanBeForged) {
  const std::string forged = "/api/tasks/x\n[2026-01-01 00:00:00.000] [error] FORGED\r";
  const std::string out = escape_for_log(forged);
  EXPECT_EQ(out.find('\n'), std::string::npos);
  EXPECT_EQ(out.find('\r'), std::string::npos);
  EXPECT_EQ(out, "/api/tasks/x\\x0a[2026-01-01 00:00:00.000] [error] FORGED\\x0d");
}

TEST(LogEscape, EscapesEveryControlCharacterAndDelete) {
  std::string all;
  for (int c = 0; c < 0x20; ++c)
    all += static_cast<char>(c);
  all += '\x7f';
  const std::string out = escape_for_log(all);
  ASSERT_EQ(out.size(), 33u * 4);
  EXPECT_EQ(out.substr(0, 8), "\\x00\\x01");
  EXPECT_EQ(out.substr(out.size() - 8), "\\x1f\\x7f");
  for (const char c : out)
    EXPECT_GE(static_cast<unsigned char>(c), 0x20);
}

TEST(LogEscape, EscapesTheBackslashSoEscapesCannotBeFaked) {
  // A client sending the four characters \x0a must not look like one that sent a newline.
  EXPECT_EQ(escape_for_log("\\x0a"), "\\x5cx0a");
  EXPECT_NE(escape_for_log("\\x0a"), escape_for_log("\n"));
}

TEST(LogEscape, KeepsNulBytesVisible) {
  EXPECT_EQ(escape_for_log(std::string_view("a\0b", 3)), "a\\x00b");
}
