// The daemon's flags are range-checked before anything starts (issue 9): a value out of range,
// negative, not a number or not finite is a usage error (main() exits 2 on any CLI11 error).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "uasyncd/daemon/serve_command.hpp"

namespace {

using uasyncd::server::ServeFlags;

// Whether CLI11 refuses these arguments.
bool refused(std::vector<std::string> args) {
  CLI::App app;
  ServeFlags flags;
  uasyncd::server::add_serve_flags(app, flags);
  std::reverse(args.begin(), args.end());  // CLI11 takes a reversed vector
  try {
    app.parse(args);
  } catch (const CLI::ParseError&) {
    return true;
  }
  return false;
}

TEST(ServeFlags, OutOfRangeValuesAreRefused) {
  const std::vector<std::vector<std::string>> bad = {
      {"--keep-finished", "-5"},       {"--max-running", "-1"},
      {"--exec-kill-grace", "nan"},    {"--exec-kill-grace", "inf"},
      {"--exec-kill-grace", "-1"},     {"--shutdown-grace", "nan"},
      {"--shutdown-grace", "1e9"},     {"--max-running", "1.5"},
      {"--keep-finished", "x"},        {"--allow-origin", "evil.example"},
      {"--allow-origin", "http://a/"}, {"--exec-kill-grace", "4000"},
  };
  for (const auto& args : bad)
    EXPECT_TRUE(refused(args)) << args[0] << " " << args[1];
}

TEST(ServeFlags, SensibleValuesAreAccepted) {
  const std::vector<std::vector<std::string>> good = {
      {"--keep-finished", "0"},     {"--keep-finished", "100000"},
      {"--max-running", "0"},       {"--max-running", "8"},
      {"--exec-kill-grace", "0.5"}, {"--shutdown-grace", "0"},
      {"--shutdown-grace", "30"},   {"--allow-origin", "http://localhost:3000,https://a.example"},
  };
  for (const auto& args : good)
    EXPECT_FALSE(refused(args)) << args[0] << " " << args[1];
}

TEST(ServeFlags, AListenAddressWithAMalformedPortIsAUsageError) {
  for (const char* listen : {"127.0.0.1: 80", "127.0.0.1:+80", "127.0.0.1:80 ", "127.0.0.1:",
                             "127.0.0.1:65536", "127.0.0.1:0x50", ":80", "127.0.0.1"}) {
    ServeFlags flags;
    flags.listen = listen;
    flags.healthcheck = true;  // accepted, it would probe (exit 1) rather than serve
    EXPECT_EQ(uasyncd::server::serve(flags), 2) << listen;
  }
}

}  // namespace
