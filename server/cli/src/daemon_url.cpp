#include "uasyncd/cli/daemon_url.hpp"

#include <cctype>
#include <charconv>

#include "uasyncd/cli/exit_codes.hpp"

namespace uasyncd::cli {
namespace {

[[noreturn]] void refuse(std::string_view text, const std::string& why) {
  throw CliError(kExitUsage, "--url '" + std::string(text) + "': " + why);
}

bool host_char_ok(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7f && c != '/' && c != '?' && c != '#' && c != '@' && c != '[' &&
         c != ']' && c != '\\';
}

}  // namespace

std::string DaemonUrl::text() const {
  const bool v6 = host.find(':') != std::string::npos;
  return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

DaemonUrl parse_daemon_url(std::string_view text) {
  DaemonUrl url;
  std::string_view rest = text;
  if (const std::size_t sep = rest.find("://"); sep != std::string_view::npos) {
    url.scheme = std::string(rest.substr(0, sep));
    rest.remove_prefix(sep + 3);
    if (url.scheme != "http" && url.scheme != "https") {
      refuse(text, "the scheme must be http or https");
    }
  } else {
    url.scheme = "http";
  }
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
  if (url.scheme == "https") refuse(text, "this build of cpp-httplib has no TLS support");
#endif
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#") != std::string_view::npos) {
    refuse(text, "give only scheme://host:port (no path, query or fragment)");
  }
  if (rest.find('@') != std::string_view::npos) {
    refuse(text, "credentials do not go in the URL: use --token or UASYNCD_TOKEN");
  }
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos) refuse(text, "an IPv6 address needs its closing ']'");
    url.host = std::string(rest.substr(1, close - 1));
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') refuse(text, "expected ':port' after the IPv6 address");
      port_text = after.substr(1);
    }
    for (char c : url.host) {
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) {
        refuse(text, "not an IPv6 address inside [ ]");
      }
    }
  } else {
    const std::size_t colon = rest.rfind(':');
    url.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port_text = rest.substr(colon + 1);
    for (char c : url.host) {
      if (!host_char_ok(c)) refuse(text, "the host has a character a host name cannot have");
    }
  }
  if (url.host.empty()) refuse(text, "no host");
  if (port_text.empty()) {
    if (rest.back() == ':') refuse(text, "no port after ':'");
    url.port = url.scheme == "https" ? 443 : 80;
    return url;
  }
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), url.port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || url.port < 1 ||
      url.port > 65535) {
    refuse(text, "the port must be a number from 1 to 65535");
  }
  return url;
}

}  // namespace uasyncd::cli
