// Which browsers may drive the daemon: the defence against cross-site request forgery and DNS
// rebinding, checked on every request before authentication and routing.
//
// - Host: when the daemon listens on a loopback address (or --allow-host lists names), a request
//   whose Host names neither a loopback name or address (localhost, *.localhost, 127.0.0.0/8,
//   [::1]) nor a listed host is refused (403). A page that rebinds its own name to 127.0.0.1
//   sends its own name as Host. A request without Host (HTTP/1.0 tools) is let through.
// - Origin: a state-changing request (any method but GET, HEAD and OPTIONS) whose Origin is not
//   the daemon's own (http or https, and the Host of the request) nor listed in --allow-origin
//   is refused (403); so is one without Origin whose Sec-Fetch-Site says another site or origin
//   sent it. Scripts and the CLI send neither header and pass.
// - A listed origin gets CORS: its preflight (OPTIONS) is answered 204 with the allowed
//   methods and headers, and its responses carry Access-Control-Allow-Origin. No other origin
//   ever gets an Access-Control-Allow-* header.
//
// Thread rules: immutable after construction; any thread may call it.
#pragma once

#include <httplib.h>

#include <optional>
#include <string>
#include <vector>

#include "uasyncd/api/api_error.hpp"

namespace uasyncd::api {

struct OriginOptions {
  std::vector<std::string> allow_origins;  // exact origins, e.g. "http://localhost:3000"
  std::vector<std::string> allow_hosts;    // host names or addresses, without port
  bool loopback_only = false;              // the daemon listens on a loopback address
};

// Whether `host` (as in --listen, without port) is a loopback name or address.
bool is_loopback_host(std::string_view host);

class OriginPolicy {
 public:
  explicit OriginPolicy(OriginOptions options);

  // The refusal for this request, if it is refused.
  std::optional<ApiError> check(const httplib::Request& req) const;
  // For a listed origin: the CORS headers on `res`; true if the request is its preflight and
  // `res` is the whole answer.
  bool add_cors(const httplib::Request& req, httplib::Response& res) const;

 private:
  bool host_allowed(std::string_view host_header) const;
  bool origin_listed(std::string_view origin) const;

  OriginOptions options_;
};

}  // namespace uasyncd::api
