// The requests one instance of a cluster sends the instance that holds a task, over NOTIFY
// uasyncd_control, and their answers, as one line of text each:
//   "OWNER timeout ID MS FROM NONCE"      end task ID timed_out MS milliseconds after reading this
//   "OWNER cancel_step ID STEP FROM NONCE"  cancel step STEP of task ID (its index: tID.STEP)
//   "TO answer NONCE CODE[ MESSAGE]"      the instance TO's request NONCE was applied (CODE "ok")
//                                         or not (CODE says why, MESSAGE for a person)
// OWNER is the instance asked, FROM the asking one. Parsed as hostile input: anyone who can
// NOTIFY on the database can send them.
//
// Thread rules: plain functions, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "uasyncd/store/pg_cluster.hpp"

namespace uasyncd::server {

struct OwnerRequest {
  std::int64_t owner = 0;  // the instance asked
  RemoteRequest request;
};

struct RequestAnswer {
  std::int64_t to = 0;
  std::uint64_t nonce = 0;
  std::string code;  // "ok", or why the request was not applied
  std::string message;
};

std::string format_request(const OwnerRequest& r);
std::string format_answer(const RequestAnswer& a);
std::optional<OwnerRequest> parse_request(std::string_view payload);
std::optional<RequestAnswer> parse_answer(std::string_view payload);

}  // namespace uasyncd::server
