// The web dashboard: the files of web/, compiled into the binary at build time, served at `/`.
#pragma once

#include "uasyncd/api/http_server.hpp"

#include <span>
#include <string_view>

namespace uasyncd::api {

struct WebAsset {
  std::string_view path;  // "/index.html", "/app.js", ...
  std::string_view content_type;
  std::string_view body;
};

// Every embedded file (generated from web/ by cmake/embed_files.cmake).
std::span<const WebAsset> web_assets();

// The asset served at `path` ("/" is index.html); nullptr if there is none.
const WebAsset* find_web_asset(std::string_view path);

// GET / and GET /<file> for the embedded files, with a strict Content-Security-Policy. The page
// carries no secret, so it needs no token; the API calls it makes do.
void install_dashboard(HttpServer& server);

}  // namespace uasyncd::api
