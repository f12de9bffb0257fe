// The requests one instance of a cluster sends another over NOTIFY uasyncd_control, and their
// answers, as one line of text each:
//   "OWNER timeout ID MS FROM NONCE"  the instance OWNER, which holds task ID, is asked to end it
//                                     timed_out MS milliseconds after it reads this; FROM asks
//   "TO answer NONCE CODE[ MESSAGE]"  the instance TO's request NONCE was applied (CODE "ok") or
//                                     not (CODE says why, MESSAGE for a person)
// Parsed as hostile input: anyone who can NOTIFY on the database can send them.
//
// Thread rules: plain functions, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace uasyncd::server {

struct TimeoutRequest {
  std::int64_t owner = 0;
  std::uint64_t id = 0;
  std::int64_t ms = 0;
  std::int64_t from = 0;
  std::uint64_t nonce = 0;
};

struct RequestAnswer {
  std::int64_t to = 0;
  std::uint64_t nonce = 0;
  std::string code;  // "ok", or why the request was not applied
  std::string message;
};

std::string format_request(const TimeoutRequest& r);
std::string format_answer(const RequestAnswer& a);
std::optional<TimeoutRequest> parse_timeout_request(std::string_view payload);
std::optional<RequestAnswer> parse_answer(std::string_view payload);

}  // namespace uasyncd::server
