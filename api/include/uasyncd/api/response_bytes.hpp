// Responses the HTTP transport writes itself, outside cpp-httplib's request cycle: refusals of
// requests cpp-httplib never sees in full, and answers to deferred requests completed later on
// another thread. Pure functions; any thread.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace uasyncd::api {

// How the connection goes on after a response: closed, or kept for the next request with the
// timeout and request count announced in a Keep-Alive header.
struct ConnectionPolicy {
  bool close = true;
  std::chrono::seconds idle_timeout{5};
  std::size_t max_requests = 100;
};

// Status line, `res`'s headers, Content-Type (when there is a body), Content-Length and the
// connection headers, then the body unless `head_only`. `res` must not use a content provider.
std::string response_bytes(const httplib::Response& res, const ConnectionPolicy& connection,
                           bool head_only = false);

// A JSON error response, {"error": {"code", "message"}}, closing the connection.
std::string error_response_bytes(int status, std::string_view code, std::string_view message);

// The reason phrase for `status` ("Payload Too Large"); "Unknown" for codes not listed.
const char* reason_phrase(int status);

}  // namespace uasyncd::api
