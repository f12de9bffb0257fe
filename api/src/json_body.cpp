#include "uasyncd/api/json_body.hpp"

#include <algorithm>
#include <cctype>
#include <string>

#include "uasyncd/job/job_spec.hpp"

namespace uasyncd::api {
namespace {

using nlohmann::json;

struct TooDeep {};
struct TooMany {};

bool has_media_type(std::string_view content_type, std::string_view want) {
  std::string type(content_type);
  std::transform(type.begin(), type.end(), type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return type.compare(0, want.size(), want) == 0 &&
         (type.size() == want.size() || type[want.size()] == ';' || type[want.size()] == ' ');
}

}  // namespace

bool is_json_type(std::string_view content_type) {
  return has_media_type(content_type, "application/json");
}

bool is_ndjson_type(std::string_view content_type) {
  return has_media_type(content_type, "application/x-ndjson");
}

std::optional<json> parse_json_body(std::string_view body, ApiError& error, std::size_t max_bytes,
                                    std::size_t max_elements) {
  if (body.size() > max_bytes) {
    error = {413, "payload_too_large",
             "the body is larger than " + std::to_string(max_bytes) + " bytes"};
    return std::nullopt;
  }
  // nlohmann's lexer takes a raw NUL byte for the end of input, so `{"value":1}` NUL garbage
  // would parse as `{"value":1}`. JSON text holds no raw NUL anywhere (control characters in
  // strings must be escaped), so any NUL byte makes the body malformed.
  if (const std::size_t nul = body.find('\0'); nul != std::string_view::npos) {
    error = {400, "invalid_json",
             "$: a NUL byte at offset " + std::to_string(nul) + "; JSON text holds none"};
    return std::nullopt;
  }
  // The callback sees every nesting level as it is entered, so a hostile document is refused
  // before a recursive dump or walk could run out of stack.
  // A top-level array's elements are counted as they come: a body of many tiny elements is
  // refused before it is all parsed (its parsed form would be many times its size).
  bool root_array = false;
  std::size_t elements = 0;
  const json::parser_callback_t bound = [&](int depth, json::parse_event_t event, json&) {
    if (depth > server::kMaxSpecJsonNesting) throw TooDeep{};
    if (depth == 0 && event == json::parse_event_t::array_start) root_array = true;
    if (root_array && depth == 1 && max_elements != 0 &&
        (event == json::parse_event_t::object_start || event == json::parse_event_t::array_start ||
         event == json::parse_event_t::value) &&
        ++elements > max_elements) {
      throw TooMany{};
    }
    return true;
  };
  try {
    return json::parse(body, bound);
  } catch (const TooMany&) {
    error = {413, "payload_too_large",
             "$: an array of at most " + std::to_string(max_elements) + " elements is taken"};
  } catch (const TooDeep&) {
    error = {400, "invalid_json", "$: JSON nested too deeply"};
  } catch (const json::exception& e) {  // parse_error, and out_of_range for 1e999
    error = {400, "invalid_json", std::string("malformed JSON: ") + e.what()};
  }
  return std::nullopt;
}

std::optional<json> parse_ndjson_body(std::string_view body, ApiError& error, std::size_t max_bytes,
                                      std::size_t max_documents) {
  if (body.size() > max_bytes) {
    error = {413, "payload_too_large",
             "the body is larger than " + std::to_string(max_bytes) + " bytes"};
    return std::nullopt;
  }
  json out = json::array();
  std::size_t line_no = 0;
  while (!body.empty()) {
    const std::size_t end = body.find('\n');
    std::string_view line = body.substr(0, end);
    body = end == std::string_view::npos ? std::string_view() : body.substr(end + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    if (out.size() == max_documents) {
      error = {413, "payload_too_large",
               "more than " + std::to_string(max_documents) + " specs in one request"};
      return std::nullopt;
    }
    std::optional<json> doc = parse_json_body(line, error, max_bytes);
    if (!doc) {
      error.message = "line " + std::to_string(line_no) + ": " + error.message;
      return std::nullopt;
    }
    out.push_back(std::move(*doc));
  }
  return out;
}

}  // namespace uasyncd::api
