#include "uasyncd/api/bulk_request.hpp"

#include <cstdint>
#include <utility>

#include "uasyncd/job/job_id.hpp"

namespace uasyncd::api {
namespace {

using nlohmann::json;
namespace srv = server;

// The task id at `path`, or nullopt and the error.
std::optional<std::uint64_t> task_id(const json& v, const std::string& path, ApiError& error) {
  std::optional<srv::JobRef> ref =
      v.is_string() ? srv::parse_job_ref(v.get<std::string>()) : std::nullopt;
  if (!ref) {
    error = invalid_request(path + ": not a task id");
    return std::nullopt;
  }
  if (ref->step) {
    error = invalid_request(path + ": a step id; bulk actions apply to whole tasks");
    return std::nullopt;
  }
  return ref->id;
}

bool parse_filter(const json& f, srv::ListQuery& query, ApiError& error) {
  if (!f.is_object()) {
    error = invalid_request("$.filter: expected an object");
    return false;
  }
  for (const auto& [key, v] : f.items()) {
    const std::string path = "$.filter." + key;
    if (key != "cursor" && !v.is_string()) {
      error = invalid_request(path + ": expected a string");
      return false;
    }
    if (key == "state") {
      query.state = srv::parse_state(v.get<std::string>());
      if (!query.state) {
        error = invalid_request(path + ": unknown state " + v.get<std::string>());
        return false;
      }
    } else if (key == "name") {
      query.name = v.get<std::string>();
    } else if (key == "q") {
      const std::string q = v.get<std::string>();
      if (std::optional<std::string> why = name_part_error(q)) {
        error = invalid_request(path + ": " + *why);
        return false;
      }
      if (!q.empty()) query.name_contains = q;
    } else if (key == "cursor") {
      std::optional<std::uint64_t> id = task_id(v, path, error);
      if (!id) return false;
      query.before = id;
    } else {
      error = invalid_request(path + ": unknown key");
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<std::string> name_part_error(std::string_view q) {
  if (q.size() > kMaxNamePartBytes) {
    return "must be at most " + std::to_string(kMaxNamePartBytes) + " bytes";
  }
  if (q.find('\0') != std::string_view::npos) return "must not contain a NUL byte";
  return std::nullopt;
}

std::optional<srv::BulkRequest> parse_bulk_request(const json& body, ApiError& error) {
  if (!body.is_object()) {
    error = invalid_request("$: expected an object");
    return std::nullopt;
  }
  srv::BulkRequest out;
  bool has_ids = false;
  bool has_filter = false;
  for (const auto& [key, v] : body.items()) {
    if (key == "action") {
      const std::string action = v.is_string() ? v.get<std::string>() : "";
      if (action != "cancel" && action != "delete") {
        error = invalid_request(R"($.action: expected "cancel" or "delete")");
        return std::nullopt;
      }
      out.action = action == "cancel" ? srv::BulkAction::cancel : srv::BulkAction::remove;
    } else if (key == "ids") {
      has_ids = true;
      if (!v.is_array() || v.empty() || v.size() > kMaxBulkIds) {
        error = invalid_request("$.ids: expected an array of 1 to " + std::to_string(kMaxBulkIds) +
                                " task ids");
        return std::nullopt;
      }
      for (std::size_t i = 0; i < v.size(); ++i) {
        std::optional<std::uint64_t> id = task_id(v[i], "$.ids[" + std::to_string(i) + "]", error);
        if (!id) return std::nullopt;
        out.ids.push_back(*id);
      }
    } else if (key == "filter") {
      has_filter = true;
      if (!parse_filter(v, out.filter, error)) return std::nullopt;
    } else if (key == "at_most") {
      if (!v.is_number_unsigned() || v.get<std::uint64_t>() == 0) {
        error = invalid_request("$.at_most: expected a positive integer");
        return std::nullopt;
      }
      out.at_most = v.get<std::uint64_t>();
    } else {
      error = invalid_request("$." + key + ": unknown key");
      return std::nullopt;
    }
  }
  if (!body.contains("action")) {
    error = invalid_request(R"($.action: expected "cancel" or "delete")");
    return std::nullopt;
  }
  if (has_ids == has_filter) {
    error = invalid_request("give exactly one of $.ids and $.filter");
    return std::nullopt;
  }
  return out;
}

json bulk_json(const srv::BulkRequest& request, const srv::BulkResult& r) {
  return {{"action", request.action == srv::BulkAction::cancel ? "cancel" : "delete"},
          {"matched", r.matched},
          {"affected", r.affected},
          {"skipped", r.skipped},
          {"more", r.more},
          {"next_cursor", r.next_cursor ? json(srv::job_id_text(*r.next_cursor)) : json(nullptr)}};
}

}  // namespace uasyncd::api
