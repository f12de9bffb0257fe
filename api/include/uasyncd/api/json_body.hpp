// The one reader of JSON request bodies: content type, size and nesting checked before anything
// looks inside, so a hostile body costs bounded memory and stack.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string_view>

#include "uasyncd/api/api_error.hpp"

namespace uasyncd::api {

inline constexpr std::size_t kMaxBodyBytes = 1 << 20;

// True for "application/json", with or without parameters.
bool is_json_type(std::string_view content_type);
// Parses a body of at most kMaxBodyBytes nested at most server::kMaxSpecJsonNesting deep;
// nullopt and `error` (413 payload_too_large, 400 invalid_json) otherwise.
std::optional<nlohmann::json> parse_json_body(std::string_view body, ApiError& error);

}  // namespace uasyncd::api
