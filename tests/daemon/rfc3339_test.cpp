// RFC 3339 times, the "at" of a spec: what is accepted, and the instant it means.
#include <gtest/gtest.h>

#include "uasyncd/job/rfc3339.hpp"

namespace srv = uasyncd::server;

TEST(Rfc3339, OffsetsAndFractionsGiveTheSameInstant) {
  constexpr std::int64_t kNewYear2027 = 1798761600000;
  EXPECT_EQ(srv::parse_rfc3339_ms("2027-01-01T00:00:00Z"), kNewYear2027);
  EXPECT_EQ(srv::parse_rfc3339_ms("2027-01-01t00:00:00z"), kNewYear2027);
  EXPECT_EQ(srv::parse_rfc3339_ms("2027-01-01 00:00:00Z"), kNewYear2027);
  EXPECT_EQ(srv::parse_rfc3339_ms("2027-01-01T01:30:00+01:30"), kNewYear2027);
  EXPECT_EQ(srv::parse_rfc3339_ms("2026-12-31T19:00:00-05:00"), kNewYear2027);
  EXPECT_EQ(srv::parse_rfc3339_ms("2027-01-01T00:00:00.250Z"), kNewYear2027 + 250);
  EXPECT_EQ(srv::parse_rfc3339_ms("2027-01-01T00:00:00.5Z"), kNewYear2027 + 500);
  EXPECT_EQ(srv::parse_rfc3339_ms("2027-01-01T00:00:00.123999Z"), kNewYear2027 + 123);
  EXPECT_EQ(srv::parse_rfc3339_ms("2026-12-31T23:59:60Z"), kNewYear2027);  // a leap second
  EXPECT_EQ(srv::parse_rfc3339_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(srv::parse_rfc3339_ms("1969-12-31T23:59:59Z"), -1000);
  EXPECT_EQ(srv::parse_rfc3339_ms("2028-02-29T00:00:00Z"), 1835395200000);
}

TEST(Rfc3339, AnythingElseIsRefused) {
  for (const char* bad : {"",
                          "2027-01-01",
                          "2027-01-01T00:00:00",
                          "2027-01-01T00:00Z",
                          "2027-1-01T00:00:00Z",
                          "2027-01-01T24:00:00Z",
                          "2027-01-01T00:60:00Z",
                          "2027-01-01T00:00:61Z",
                          "2027-02-29T00:00:00Z",
                          "2027-13-01T00:00:00Z",
                          "2027-00-01T00:00:00Z",
                          "2027-01-00T00:00:00Z",
                          "2027-01-01T00:00:00.Z",
                          "2027-01-01T00:00:00+0100",
                          "2027-01-01T00:00:00+24:00",
                          "2027-01-01T00:00:00Z ",
                          " 2027-01-01T00:00:00Z",
                          "2027-01-01T00:00:00ZZ",
                          "2027-01-01X00:00:00Z",
                          "+2027-01-01T00:00:00Z",
                          "2027-01-01T00:00:00\0Z"}) {
    EXPECT_FALSE(srv::parse_rfc3339_ms(bad)) << bad;
  }
  EXPECT_FALSE(srv::parse_rfc3339_ms(std::string_view("2027-01-01T00:00:00Z\0", 21)));
}
