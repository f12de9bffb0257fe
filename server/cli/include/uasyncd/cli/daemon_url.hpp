// Where the daemon is: the value of --url / UASYNCD_URL, checked before anything is sent.
#pragma once

#include <string>
#include <string_view>

namespace uasyncd::cli {

inline constexpr std::string_view kDefaultUrl = "http://127.0.0.1:8080";

struct DaemonUrl {
  std::string scheme;  // "http" or "https"
  std::string host;    // a name or an address; an IPv6 address without its brackets
  int port = 0;

  // scheme://host:port, as cpp-httplib's Client takes it and as messages show it.
  std::string text() const;
};

// Accepts http://host[:port][/], https://host[:port][/] and a bare host:port (taken as http).
// Anything else (a path, a query, user:password@, a bad port, https without TLS support in
// cpp-httplib) throws CliError(kExitUsage) saying what is wrong.
DaemonUrl parse_daemon_url(std::string_view text);

}  // namespace uasyncd::cli
