#include "uasyncd/api/dashboard.hpp"

#include <string>

namespace uasyncd::api {
namespace {

// Only files from the binary and calls to this origin: no inline script or style, no plugins,
// no framing (clickjacking), no <base> games; the page has no forms that post elsewhere.
constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

void serve(const WebAsset& asset, httplib::Response& res) {
  res.status = 200;
  res.set_header("Content-Security-Policy", kContentSecurityPolicy);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("X-Frame-Options", "DENY");
  // The files change only with the binary; revalidating each load keeps an upgrade visible.
  res.set_header("Cache-Control", "no-cache");
  res.set_content(std::string(asset.body), std::string(asset.content_type));
}

}  // namespace

const WebAsset* find_web_asset(std::string_view path) {
  if (path == "/") path = "/index.html";
  for (const WebAsset& a : web_assets()) {
    if (a.path == path) return &a;
  }
  return nullptr;
}

void install_dashboard(HttpServer& server) {
  // Unknown names fall through to the routes' JSON 404 (an empty body marks them unhandled).
  server.Get(R"(/|/[A-Za-z0-9_-]+\.(html|css|js|svg))",
             [](const httplib::Request& req, httplib::Response& res) {
               if (const WebAsset* asset = find_web_asset(req.path)) {
                 serve(*asset, res);
               } else {
                 res.status = 404;
               }
             });
}

}  // namespace uasyncd::api
