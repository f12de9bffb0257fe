// The task filters of the API and the body of POST /api/tasks/bulk, checked: a hostile body
// costs bounded memory (at most kMaxBulkIds ids, a name part of at most kMaxNamePartBytes).
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "uasyncd/api/api_error.hpp"
#include "uasyncd/bridge/job_bridge.hpp"

namespace uasyncd::api {

inline constexpr std::size_t kMaxNamePartBytes = 200;  // ?q= and a bulk filter's "q"
inline constexpr std::size_t kMaxBulkIds = 1000;

// Why a name part (?q=, a bulk filter's "q") is refused, if it is ("must be at most 200
// bytes"). A NUL byte is refused: SQLite's text functions may stop at it, so the backends would
// not agree on what matches.
std::optional<std::string> name_part_error(std::string_view q);

// {"action": "cancel"|"delete", "ids": [...] | "filter": {state, name, q, cursor},
//  "at_most": N}; nullopt and a 400 `error` naming the JSON path otherwise.
std::optional<server::BulkRequest> parse_bulk_request(const nlohmann::json& body, ApiError& error);
nlohmann::json bulk_json(const server::BulkRequest& request, const server::BulkResult& result);

}  // namespace uasyncd::api
