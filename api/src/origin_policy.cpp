#include "uasyncd/api/origin_policy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>

namespace uasyncd::api {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The host of a Host header value ("name:port", "[v6]:port", "name"), lower case, without the
// brackets of an IPv6 address; nullopt if malformed.
std::optional<std::string> host_name(std::string_view value) {
  if (value.empty()) return std::nullopt;
  if (value.front() == '[') {
    const std::size_t close = value.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view rest = value.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return std::nullopt;
    return lower(value.substr(1, close - 1));
  }
  const std::size_t colon = value.find(':');
  if (colon != std::string_view::npos && value.find(':', colon + 1) != std::string_view::npos)
    return std::nullopt;  // an unbracketed IPv6 address is no Host
  std::string name = lower(value.substr(0, colon));
  if (ends_with(name, ".")) name.pop_back();  // "localhost." is localhost
  if (name.empty()) return std::nullopt;
  return name;
}

bool safe_method(const std::string& method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS";
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  const std::string name = lower(host);
  if (name == "localhost" || ends_with(name, ".localhost")) return true;
  in_addr v4{};
  if (inet_pton(AF_INET, name.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, name.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6) != 0;
  return false;
}

OriginPolicy::OriginPolicy(OriginOptions options) : options_(std::move(options)) {
  for (std::string& h : options_.allow_hosts)
    h = lower(h);
}

bool OriginPolicy::host_allowed(std::string_view host_header) const {
  const std::optional<std::string> name = host_name(host_header);
  if (!name) return false;
  if (is_loopback_host(*name)) return true;
  return std::find(options_.allow_hosts.begin(), options_.allow_hosts.end(), *name) !=
         options_.allow_hosts.end();
}

bool OriginPolicy::origin_listed(std::string_view origin) const {
  return std::find(options_.allow_origins.begin(), options_.allow_origins.end(), origin) !=
         options_.allow_origins.end();
}

std::optional<ApiError> OriginPolicy::check(const httplib::Request& req) const {
  const std::string host = req.get_header_value("Host");
  const bool check_host = options_.loopback_only || !options_.allow_hosts.empty();
  if (check_host && req.has_header("Host") && !host_allowed(host)) {
    return ApiError{403, "forbidden_host",
                    "Host '" + host + "' is not this daemon's (list it with --allow-host)"};
  }
  if (safe_method(req.method)) return std::nullopt;
  if (req.has_header("Origin")) {
    const std::string origin = req.get_header_value("Origin");
    if (!host.empty() && (origin == "http://" + host || origin == "https://" + host))
      return std::nullopt;
    if (origin_listed(origin)) return std::nullopt;
    return ApiError{
        403, "forbidden_origin",
        "requests from origin '" + origin + "' are refused (list it with --allow-origin)"};
  }
  const std::string site = req.get_header_value("Sec-Fetch-Site");
  if (site == "cross-site" || site == "same-site") {
    return ApiError{403, "forbidden_origin", "requests from another site are refused"};
  }
  return std::nullopt;
}

bool OriginPolicy::add_cors(const httplib::Request& req, httplib::Response& res) const {
  const std::string origin = req.get_header_value("Origin");
  if (origin.empty() || !origin_listed(origin)) return false;
  res.set_header("Access-Control-Allow-Origin", origin);
  res.set_header("Vary", "Origin");
  if (req.method != "OPTIONS" || !req.has_header("Access-Control-Request-Method")) return false;
  res.status = 204;
  res.set_header("Access-Control-Allow-Methods", "GET, POST, DELETE");
  res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
  res.set_header("Access-Control-Max-Age", "600");
  return true;
}

}  // namespace uasyncd::api
