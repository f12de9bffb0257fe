// The browser checks of issue 9 on parsed requests: which Host and Origin headers pass.
// (tests/web/origin.suite.mjs drives the same rules from a real browser.)
#include "uasyncd/api/origin_policy.hpp"

#include <gtest/gtest.h>

namespace uasyncd::api {
namespace {

httplib::Request request(const std::string& method,
                         std::initializer_list<std::pair<std::string, std::string>> headers) {
  httplib::Request req;
  req.method = method;
  req.path = "/api/tasks/t1/cancel";
  for (const auto& [k, v] : headers)
    req.headers.emplace(k, v);
  return req;
}

std::string refusal(const OriginPolicy& p, const httplib::Request& req) {
  const std::optional<ApiError> e = p.check(req);
  return e ? std::to_string(e->status) + " " + e->code : "ok";
}

TEST(OriginPolicy, LoopbackNamesAndAddressesAreLoopback) {
  for (const char* h : {"localhost", "LOCALHOST", "app.localhost", "127.0.0.1", "127.9.8.7", "::1"})
    EXPECT_TRUE(is_loopback_host(h)) << h;
  for (const char* h : {"0.0.0.0", "::", "10.0.0.1", "evil.example", "localhost.evil.example",
                        "128.0.0.1", "::ffff:8.8.8.8", ""})
    EXPECT_FALSE(is_loopback_host(h)) << h;
}

TEST(OriginPolicy, OnLoopbackOnlyLoopbackOrListedHostsPass) {
  const OriginPolicy p({{}, {"Proxy.Example"}, true});
  for (const char* h : {"127.0.0.1:8080", "localhost:8080", "localhost.:1", "[::1]:8080",
                        "localhost", "proxy.example:443", "PROXY.example"})
    EXPECT_EQ(refusal(p, request("GET", {{"Host", h}})), "ok") << h;
  for (const char* h : {"evil.example:8080", "evil.example", "127.0.0.1.evil.example", "[::2]:80",
                        "::1", "", ":8080", "[::1]x", "10.0.0.1:8080"})
    EXPECT_EQ(refusal(p, request("GET", {{"Host", h}})), "403 forbidden_host") << h;
  // Tools speaking HTTP/1.0 send none; a browser always does.
  EXPECT_EQ(refusal(p, request("POST", {})), "ok");
}

TEST(OriginPolicy, OnOtherAddressesAnyHostPassesUnlessHostsAreListed) {
  EXPECT_EQ(refusal(OriginPolicy({{}, {}, false}), request("GET", {{"Host", "evil.example"}})),
            "ok");
  EXPECT_EQ(
      refusal(OriginPolicy({{}, {"a.example"}, false}), request("GET", {{"Host", "evil.example"}})),
      "403 forbidden_host");
}

TEST(OriginPolicy, StateChangingRequestsFromOtherOriginsAreRefused) {
  const OriginPolicy p({{"http://localhost:3000"}, {}, true});
  const auto from = [&](const std::string& method, const std::string& origin) {
    return refusal(p, request(method, {{"Host", "127.0.0.1:8080"}, {"Origin", origin}}));
  };
  EXPECT_EQ(from("POST", "http://127.0.0.1:8080"), "ok");
  EXPECT_EQ(from("POST", "https://127.0.0.1:8080"), "ok");  // behind a TLS proxy
  EXPECT_EQ(from("DELETE", "http://localhost:3000"), "ok");
  EXPECT_EQ(from("POST", "http://127.0.0.1:9000"), "403 forbidden_origin");
  EXPECT_EQ(from("POST", "http://evil.example"), "403 forbidden_origin");
  EXPECT_EQ(from("POST", "null"), "403 forbidden_origin");
  EXPECT_EQ(from("DELETE", "http://127.0.0.1:8080.evil.example"), "403 forbidden_origin");
  EXPECT_EQ(from("PUT", "http://evil.example"), "403 forbidden_origin");
  EXPECT_EQ(from("GET", "http://evil.example"), "ok");  // reads are guarded by Host and CORS
  for (const char* site : {"cross-site", "same-site"}) {
    EXPECT_EQ(refusal(p, request("POST", {{"Host", "127.0.0.1:8080"}, {"Sec-Fetch-Site", site}})),
              "403 forbidden_origin")
        << site;
  }
  for (const char* site : {"same-origin", "none"}) {
    EXPECT_EQ(refusal(p, request("POST", {{"Host", "127.0.0.1:8080"}, {"Sec-Fetch-Site", site}})),
              "ok")
        << site;
  }
}

TEST(OriginPolicy, OnlyListedOriginsGetCorsHeaders) {
  const OriginPolicy p({{"http://localhost:3000"}, {}, true});
  httplib::Response res;
  EXPECT_FALSE(p.add_cors(request("OPTIONS", {{"Origin", "http://evil.example"},
                                              {"Access-Control-Request-Method", "POST"}}),
                          res));
  EXPECT_TRUE(res.headers.empty());
  EXPECT_TRUE(p.add_cors(request("OPTIONS", {{"Origin", "http://localhost:3000"},
                                             {"Access-Control-Request-Method", "POST"}}),
                         res));
  EXPECT_EQ(res.status, 204);
  EXPECT_EQ(res.get_header_value("Access-Control-Allow-Origin"), "http://localhost:3000");
  httplib::Response plain;
  EXPECT_FALSE(p.add_cors(request("POST", {{"Origin", "http://localhost:3000"}}), plain));
  EXPECT_EQ(plain.get_header_value("Access-Control-Allow-Origin"), "http://localhost:3000");
}

}  // namespace
}  // namespace uasyncd::api
