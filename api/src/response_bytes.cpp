#include "uasyncd/api/response_bytes.hpp"

#include <nlohmann/json.hpp>

#include "uasyncd/api/request_head.hpp"

namespace uasyncd::api {

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Unknown";
  }
}

std::string response_bytes(const httplib::Response& res, const ConnectionPolicy& connection,
                           bool head_only) {
  std::string out = "HTTP/1.1 " + std::to_string(res.status) + " " + reason_phrase(res.status);
  out += "\r\n";
  const auto header = [&out](std::string_view name, std::string_view value) {
    out.append(name).append(": ").append(value).append("\r\n");
  };
  for (const auto& [name, value] : res.headers) {
    // These describe this message's framing and connection, which only this function knows.
    if (equals_ignoring_case(name, "Content-Length") || equals_ignoring_case(name, "Connection") ||
        equals_ignoring_case(name, "Keep-Alive") ||
        equals_ignoring_case(name, "Transfer-Encoding")) {
      continue;
    }
    header(name, value);
  }
  if (!res.body.empty() && !res.has_header("Content-Type")) header("Content-Type", "text/plain");
  header("Content-Length", std::to_string(res.body.size()));
  if (connection.close) {
    header("Connection", "close");
  } else {
    header("Keep-Alive", "timeout=" + std::to_string(connection.idle_timeout.count()) +
                             ", max=" + std::to_string(connection.max_requests));
  }
  out += "\r\n";
  if (!head_only) out += res.body;
  return out;
}

std::string error_response_bytes(int status, std::string_view code, std::string_view message) {
  httplib::Response res;
  res.status = status;
  const nlohmann::json body{{"error", {{"code", code}, {"message", message}}}};
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
  return response_bytes(res, ConnectionPolicy{});
}

}  // namespace uasyncd::api
