// The HTTP API on cpp-httplib. One table lists every route (method, path pattern, body kind,
// handler); it drives the registration, the 405 answers for known paths, and the handling of a
// POST sent without any body. Handlers parse and check the request, call the JobBridge, and turn
// its typed result or JobError into JSON (api_error.hpp holds the one mapping to statuses).
//
// Threads: install() once before the server starts; handlers run on the HttpServer's worker
// threads; a long-poll's answer comes from the loop thread (or the transport's gate thread).
#pragma once

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <regex>
#include <span>
#include <string>
#include <vector>

#include "uasyncd/api/api_error.hpp"
#include "uasyncd/api/http_server.hpp"
#include "uasyncd/api/origin_policy.hpp"
#include "uasyncd/api/sse_streams.hpp"
#include "uasyncd/bridge/job_bridge.hpp"

namespace uasyncd::api {

struct RouteOptions {
  // Required on /api and /metrics; /healthz and the dashboard's files stay open. Empty: no
  // authentication.
  std::string token;
  bool metrics_public = false;  // /metrics without the token
  std::string version;          // shown by GET /api/stats
  OriginOptions origin;         // which browsers may send requests (origin_policy.hpp)
  // Shown by GET /api/stats, for the dashboard's health panel.
  std::size_t max_running = 0;  // 0: no limit
  std::size_t keep_finished = 0;
  SseOptions sse;
  // Told about every answered request (for the access log). The method and path are the
  // client's, as decoded: escape them (escape_for_log) to log them.
  std::function<void(const std::string& method, const std::string& path, int status,
                     std::int64_t micros)>
      on_request;
};

// What this daemon serves beyond the base API (GET /api/stats "features", and the event
// stream's greeting): the feature strings of docs/dashboard-api.md.
std::span<const char* const> features();

class Routes {
 public:
  Routes(server::JobBridge& jobs, RouteOptions options);
  // Once; `server` must outlive every request it serves (its stats are read by /metrics).
  void install(HttpServer& server);
  // Prometheus lines of the HTTP side: answered requests by status; open connections, waiting
  // long-polls and event streams.
  std::string http_metrics() const;
  // Ends every open SSE stream (within a fraction of a second): call before stopping the server.
  void close_streams() { streams_.close_all(); }
  std::size_t open_streams() const { return streams_.open_count(); }

 private:
  // json: a JSON body is required (415, 413, 400 otherwise); specs: a JSON body or JSON lines
  // (a batch: kMaxBatchBodyBytes, and as a JSON array of them), as the submit takes.
  enum class Body { none, json, specs };
  struct Call {
    const httplib::Request& req;
    httplib::Response& res;
    std::string id;  // the path's {id}, if it has one
    nlohmann::json body;
  };
  using Handler = void (Routes::*)(Call&);
  struct Route {
    const char* method;
    const char* pattern;
    Body body;
    Handler handler;
  };
  static const std::vector<Route>& table();

  void dispatch(const Route& route, Call& call);
  const Route* find(const std::string& method, const std::string& path, std::smatch& m) const;
  bool known_path(const std::string& path) const;
  // 405 for a known path with another method, else 404.
  ApiError no_route(const httplib::Request& req) const;
  bool authorized(const httplib::Request& req) const;
  void answered(const httplib::Request& req, const httplib::Response& res,
                std::chrono::microseconds elapsed);

  void submit(Call& c);
  void submit_batch(Call& c);
  // The request's Idempotency-Key ("" when none), or nullopt once a 400 was sent.
  std::optional<std::string> idempotency_key(Call& c);
  // The query parameter `name` in seconds (capped at the longest wait), none, or nullopt once a
  // 400 was sent.
  std::optional<std::optional<double>> wait_param(Call& c, const char* name);
  // Parks the request until job `ref` ends (answered `finished_status` with its record) or
  // `timeout` seconds pass (202, the record as it is); false when it cannot be parked
  // (--max-waiters), nothing sent.
  bool park_wait(Call& c, const server::JobRef& ref, double timeout, int finished_status);
  void list(Call& c);
  void get(Call& c);
  void remove(Call& c);
  void wait(Call& c);
  void cancel(Call& c);
  void set_timeout(Call& c);
  void output(Call& c);
  void bulk(Call& c);
  void events(Call& c);
  void follow(Call& c);
  void stats(Call& c);
  void history(Call& c);
  void health(Call& c);
  void add_schedule(Call& c);
  void list_schedules(Call& c);
  void get_schedule(Call& c);
  void remove_schedule(Call& c);
  void pause_schedule(Call& c);
  void resume_schedule(Call& c);
  void trigger_schedule(Call& c);
  void list_queues(Call& c);
  void instances(Call& c);
  void get_queue(Call& c);
  void set_queue(Call& c);
  void metrics(Call& c);

  server::JobBridge& jobs_;
  RouteOptions options_;
  OriginPolicy origin_;
  std::vector<std::regex> patterns_;  // table()'s patterns, compiled once
  SseStreams streams_;
  const HttpServer* server_ = nullptr;  // set by install()
  mutable std::mutex mu_;
  std::map<int, std::uint64_t> by_status_;
};

void send(httplib::Response& res, int status, const nlohmann::json& body);
void send(httplib::Response& res, const ApiError& error);

}  // namespace uasyncd::api
