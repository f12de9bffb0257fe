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
// POST /api/tasks takes a batch of specs: a larger body, still bounded (each worker thread holds
// at most one, and its parsed form).
inline constexpr std::size_t kMaxBatchBodyBytes = std::size_t{8} << 20;
// Specs one batch submit takes.
inline constexpr std::size_t kMaxBatchTasks = 10'000;

// True for "application/json", with or without parameters.
bool is_json_type(std::string_view content_type);
// True for "application/x-ndjson" (JSON lines), with or without parameters.
bool is_ndjson_type(std::string_view content_type);
// Parses a body of at most `max_bytes` nested at most server::kMaxSpecJsonNesting deep (and, if
// it is an array, of at most `max_elements` elements; 0: any number); nullopt and `error` (413
// payload_too_large, 400 invalid_json) otherwise.
std::optional<nlohmann::json> parse_json_body(std::string_view body, ApiError& error,
                                              std::size_t max_bytes = kMaxBodyBytes,
                                              std::size_t max_elements = 0);
// JSON lines: one document per line (blank lines skipped), each checked as parse_json_body
// checks a body, at most `max_documents` of them; a JSON array of them, or nullopt and `error`
// naming the line (400 invalid_json, or 413 past `max_documents` or `max_bytes`).
std::optional<nlohmann::json> parse_ndjson_body(std::string_view body, ApiError& error,
                                                std::size_t max_bytes, std::size_t max_documents);

}  // namespace uasyncd::api
