// The HTTP API on cpp-httplib: parses and checks requests, hands them to a Service, and turns
// every outcome (including unknown routes and oversized bodies) into a JSON response.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "uasyncd/api/http_server.hpp"
#include "uasyncd/api/service.hpp"

namespace uasyncd::api {

struct RouteOptions {
  std::string token;        // empty: no authentication
  bool allow_exec = false;  // exec steps are refused (403) unless set
  // Open SSE streams allowed at once (each holds an HTTP thread while open); 503 past it.
  std::size_t max_sse = 32;
  // A comment line sent on a quiet stream, so proxies keep it and a gone client is noticed.
  std::chrono::milliseconds sse_keepalive{15000};
  // GET /api/events sends at most one batch per interval.
  std::chrono::milliseconds event_batch_interval{100};
  // Told about every answered request (for the access log). The method and path are the
  // client's, as decoded: escape them (escape_for_log) to log them.
  std::function<void(const std::string& method, const std::string& path, int status,
                     std::int64_t micros)>
      on_request;
};

class Routes {
 public:
  Routes(Service& service, RouteOptions options);
  void install(HttpServer& server);
  // Prometheus lines counting answered requests by status.
  std::string http_metrics() const;
  // Ends every open SSE stream (within a fraction of a second): call before stopping the server,
  // which waits for its handler threads.
  void close_streams();
  std::size_t open_streams() const { return open_streams_.load(); }

 private:
  bool authorized(const httplib::Request& req) const;
  // A POST that has no body: a cancel needs none; the others get a clear 400.
  httplib::Server::HandlerResponse answer_bodyless_post(const httplib::Request& req,
                                                        httplib::Response& res);
  void submit(const httplib::Request& req, httplib::Response& res);
  void list(const httplib::Request& req, httplib::Response& res);
  void wait(const httplib::Request& req, httplib::Response& res);
  void set_timeout(const httplib::Request& req, httplib::Response& res);
  void metrics(httplib::Response& res);
  void output(const httplib::Request& req, httplib::Response& res);
  void events(httplib::Response& res);
  // Claims an SSE slot; false (and a 503 in `res`) past max_sse.
  bool open_stream(httplib::Response& res);
  // Opens a stream slot and serves the channel `subscribe` fills, or answers its refusal.
  void subscribe_and_serve(httplib::Response& res, bool batched,
                           const std::function<Reply(std::shared_ptr<SseChannel>)>& subscribe);
  // Streams `channel` as SSE; `batched`: items are JSON values sent as arrays, one per interval.
  void serve_sse(httplib::Response& res, std::shared_ptr<SseChannel> channel, bool batched);
  struct SseState;
  bool pump_sse(SseState& state, httplib::DataSink& sink);
  void answered(const httplib::Request& req, const httplib::Response& res,
                std::chrono::microseconds elapsed);

  Service& service_;
  RouteOptions options_;
  mutable std::mutex mu_;
  std::map<int, std::uint64_t> by_status_;
  std::atomic<std::size_t> open_streams_{0};
  std::atomic<bool> streams_closed_{false};
};

// Sends `reply` as JSON.
void send(httplib::Response& res, const Reply& reply);

}  // namespace uasyncd::api
