// An api::HttpServer on an ephemeral loopback port with a few routes that exercise the
// transport: plain answers, a body echo, a large body, long-polls (deferred), a slow handler and
// an event stream. Deadlines are short so that the tests stay fast.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "raw_client.hpp"
#include "uasyncd/api/http_server.hpp"

// libcpp-httplib is a prebuilt, uninstrumented library: ThreadSanitizer does not see the
// synchronisation of its inlined atomics. Only races inside that library are silenced.
extern "C" const char* __tsan_default_suppressions() {
  return "race:libcpp-httplib.so\n";
}

using namespace std::chrono_literals;
using uasyncd::api::DeferredResponse;
using uasyncd::api::HttpServer;
using uasyncd::api::HttpServerOptions;
using Clock = std::chrono::steady_clock;

// How long a request that nothing holds up may take: generous under the sanitizers, which slow
// everything several times on a loaded machine.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr auto kPrompt = 1000ms;
#else
constexpr auto kPrompt = 100ms;
#endif

inline std::chrono::milliseconds ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t);
}

class HttpServerTest : public ::testing::Test {
 protected:
  static HttpServerOptions fast_options() {
    HttpServerOptions o;
    o.worker_threads = 4;
    o.head_timeout = 1000ms;
    o.idle_timeout = 1000ms;
    o.body_timeout = 1000ms;
    o.write_timeout = 2000ms;
    o.linger_timeout = 500ms;
    o.answer_grace = 500ms;
    return o;
  }

  void start(HttpServerOptions options = fast_options()) {
    server_ = std::make_unique<HttpServer>(options);
    server_->Get("/hello", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("hello", "text/plain");
    });
    server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"status":"ok"})", "application/json");
    });
    server_->Post("/echo", [this](const httplib::Request& req, httplib::Response& res) {
      ++echo_calls_;
      res.set_content(std::to_string(req.body.size()), "text/plain");
    });
    // Refused before routing without credentials, as the daemon's API is with --token.
    server_->set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
      if (req.path != "/guarded" || req.has_header("Authorization")) {
        return httplib::Server::HandlerResponse::Unhandled;
      }
      res.status = 401;
      res.set_content("unauthorized", "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    });
    server_->Post("/guarded", [this](const httplib::Request& req, httplib::Response& res) {
      ++echo_calls_;
      res.set_content(std::to_string(req.body.size()), "text/plain");
    });
    server_->Get("/big", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(big_body(), "application/json");
    });
    server_->Get("/slow", [](const httplib::Request& req, httplib::Response& res) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(req.get_param_value("ms"))));
      res.set_content("slow", "text/plain");
    });
    server_->Get("/wait", [this](const httplib::Request& req, httplib::Response& res) {
      const int timeout_ms = req.has_param("ms") ? std::stoi(req.get_param_value("ms")) : 60000;
      auto slot = std::make_shared<std::weak_ptr<DeferredResponse>>();
      DeferredResponse::Options options;
      options.timeout = std::chrono::milliseconds(timeout_ms);
      options.on_timeout = [this, slot] {
        ++timeouts_;
        if (auto d = slot->lock()) d->complete(text(202, "timed out"));
      };
      options.on_gone = [this] { ++gone_; };
      std::shared_ptr<DeferredResponse> d = HttpServer::defer(req, std::move(options));
      if (!d) {
        res.status = 503;
        res.set_content("too many waiting", "text/plain");
        return;
      }
      *slot = d;
      if (req.has_param("now")) d->complete(text(200, "answered at once"));
      std::lock_guard lock(mu_);
      parked_.push_back(std::move(d));
    });
    // Deferred, and never answered: its owner ignores the timeout.
    server_->Get("/mute", [this](const httplib::Request& req, httplib::Response&) {
      DeferredResponse::Options options;
      options.timeout = 100ms;
      std::shared_ptr<DeferredResponse> d = HttpServer::defer(req, std::move(options));
      std::lock_guard lock(mu_);
      muted_.push_back(std::move(d));
    });
    server_->Get("/sse", [](const httplib::Request&, httplib::Response& res) {
      res.set_chunked_content_provider("text/event-stream",
                                       [](std::size_t offset, httplib::DataSink& sink) {
                                         if (offset >= 3 * 8) {
                                           sink.done();
                                           return true;
                                         }
                                         std::this_thread::sleep_for(10ms);
                                         return sink.write("data: x\n\n", 9);
                                       });
    });
    server_->set_access_log([this](const httplib::Request& req, const httplib::Response& res,
                                   std::chrono::microseconds) {
      std::lock_guard lock(mu_);
      logged_.push_back(req.method + " " + req.path + " " + std::to_string(res.status));
    });
    port_ = server_->start("127.0.0.1", 0);
    ASSERT_GT(port_, 0);
  }

  void TearDown() override {
    if (server_) server_->stop(1000ms);
  }

  static httplib::Response text(int status, const std::string& body) {
    httplib::Response res;
    res.status = status;
    res.set_content(body, "text/plain");
    return res;
  }

  static const std::string& big_body() {
    static const std::string body = [] {
      std::string s;
      for (int i = 0; s.size() < 600 * 1024; ++i)
        s += std::to_string(i) + ",";
      return s;
    }();
    return body;
  }

  // The deferred requests parked so far.
  std::vector<std::shared_ptr<DeferredResponse>> parked() {
    std::lock_guard lock(mu_);
    return parked_;
  }
  // Waits (up to `timeout`) until `n` requests have been deferred.
  bool await_parked(std::size_t n, std::chrono::milliseconds timeout = 5000ms) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (parked().size() >= n) return true;
      std::this_thread::sleep_for(2ms);
    }
    return false;
  }
  // Waits (up to `timeout`) until `done` holds, for what another thread updates.
  static bool eventually(const std::function<bool()>& done,
                         std::chrono::milliseconds timeout = 2000ms) {
    const auto deadline = Clock::now() + timeout;
    while (!done()) {
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(2ms);
    }
    return true;
  }
  std::vector<std::string> logged() {
    std::lock_guard lock(mu_);
    return logged_;
  }

  // GET path on a fresh connection; the response, or nullopt.
  std::optional<RawResponse> fetch(const std::string& path,
                                   std::chrono::milliseconds timeout = 5000ms) {
    RawClient c(port_);
    if (!c.send(get_request(path))) return std::nullopt;
    return c.read_response(timeout);
  }

  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
  std::atomic<int> echo_calls_{0};
  std::atomic<int> timeouts_{0};
  std::atomic<int> gone_{0};
  std::mutex mu_;
  std::vector<std::shared_ptr<DeferredResponse>> parked_;
  std::vector<std::shared_ptr<DeferredResponse>> muted_;
  std::vector<std::string> logged_;
};
