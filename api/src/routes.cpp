#include "uasyncd/api/routes.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <memory>
#include <regex>
#include <sstream>
#include <utility>

#include "uasyncd/api/dashboard.hpp"
#include "uasyncd/api/json_body.hpp"
#include "uasyncd/job/job_json.hpp"

namespace uasyncd::api {
namespace {

using httplib::Request;
using httplib::Response;
using nlohmann::json;
namespace srv = server;

constexpr double kMaxWaitSeconds = 300;

// Compares every byte whatever the input, so the time taken does not tell how much matched.
bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

// A POST with neither Content-Length nor chunked encoding, as `curl -X POST url` sends it: it has
// no body, but cpp-httplib would try to read one up to the connection's end and refuse it.
bool bodyless_post(const Request& req) {
  return req.method == "POST" && !req.has_header("Content-Length") &&
         !req.has_header("Transfer-Encoding");
}

// Seconds as plain decimal ("30", "0.25"): not hex ("0x1"), exponents, "inf" or a sign, which
// std::stod would take.
std::optional<double> seconds_param(const std::string& text) {
  static const std::regex decimal(R"([0-9]{1,9}(\.[0-9]{1,9})?)");
  if (!std::regex_match(text, decimal)) return std::nullopt;
  return std::stod(text);
}

void send_doc(Response& res, int status, const srv::JsonDoc& doc) {
  if (doc.text) {
    res.status = status;
    res.set_content(*doc.text, "application/json");
  } else {
    send(res, status, doc.json);
  }
}

// A long-poll's answer, given to the transport that parked its request.
void answer_wait(DeferredResponse& deferred, const srv::Result<srv::Waited>& r) {
  Response res;
  if (r) {
    send_doc(res, r.value().finished ? 200 : 202, r.value().job);
  } else {
    send(res, api_error(r.error()));
  }
  deferred.complete(res);
}

// The job or step a path names; answers 404 (and returns nullopt) for anything else.
std::optional<srv::JobRef> job_ref(Response& res, const std::string& id) {
  std::optional<srv::JobRef> ref = srv::parse_job_ref(id);
  if (!ref) send(res, {404, "not_found", "no task or step " + id});
  return ref;
}

// Sends a service result as `status` with its value, or its error.
template <class T>
void reply(Response& res, int status, const srv::Result<T>& r) {
  if (r) {
    send(res, status, r.value());
  } else {
    send(res, api_error(r.error()));
  }
}

}  // namespace

void send(Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(srv::json_text(body), "application/json");
}

void send(Response& res, const ApiError& e) {
  send(res, e.status, json{{"error", {{"code", e.code}, {"message", e.message}}}});
}

const std::vector<Routes::Route>& Routes::table() {
  static const std::vector<Route> routes{
      {"POST", "/api/tasks", Body::json, &Routes::submit},
      {"GET", "/api/tasks", Body::none, &Routes::list},
      {"GET", R"(/api/tasks/([^/]+))", Body::none, &Routes::get},
      {"DELETE", R"(/api/tasks/([^/]+))", Body::none, &Routes::remove},
      {"GET", R"(/api/tasks/([^/]+)/wait)", Body::none, &Routes::wait},
      {"POST", R"(/api/tasks/([^/]+)/cancel)", Body::none, &Routes::cancel},
      {"POST", R"(/api/tasks/([^/]+)/timeout)", Body::json, &Routes::set_timeout},
      {"GET", R"(/api/tasks/([^/]+)/output)", Body::none, &Routes::output},
      {"GET", "/api/events", Body::none, &Routes::events},
      {"GET", "/api/stats", Body::none, &Routes::stats},
      {"GET", "/healthz", Body::none, &Routes::health},
      {"GET", "/metrics", Body::none, &Routes::metrics},
  };
  return routes;
}

Routes::Routes(srv::JobBridge& jobs, RouteOptions options)
    : jobs_(jobs), options_(std::move(options)), origin_(options_.origin), streams_(options_.sse) {
  for (const Route& r : table())
    patterns_.emplace_back(r.pattern);
}

const Routes::Route* Routes::find(const std::string& method, const std::string& path,
                                  std::smatch& m) const {
  for (std::size_t i = 0; i < table().size(); ++i) {
    if (method == table()[i].method && std::regex_match(path, m, patterns_[i])) return &table()[i];
  }
  return nullptr;
}

bool Routes::known_path(const std::string& path) const {
  return std::any_of(patterns_.begin(), patterns_.end(),
                     [&](const std::regex& p) { return std::regex_match(path, p); });
}

bool Routes::authorized(const Request& req) const {
  if (options_.token.empty()) return true;
  const std::string header = req.get_header_value("Authorization");
  // RFC 7235: the scheme is case-insensitive.
  constexpr std::string_view scheme = "bearer ";
  if (header.size() < scheme.size()) return false;
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != scheme[i]) return false;
  }
  return constant_time_equal(std::string_view(header).substr(scheme.size()), options_.token);
}

void Routes::dispatch(const Route& route, Call& call) {
  if (route.body == Body::json) {
    if (!is_json_type(call.req.get_header_value("Content-Type"))) {
      send(call.res, {415, "unsupported_media_type", "send the body as application/json"});
      return;
    }
    ApiError error;
    std::optional<json> doc = parse_json_body(call.req.body, error);
    if (!doc) {
      send(call.res, error);
      return;
    }
    call.body = std::move(*doc);
  }
  (this->*route.handler)(call);
}

void Routes::install(HttpServer& server) {
  server.set_pre_routing_handler([this](const Request& req, Response& res) {
    // Before authentication: a forged request must not even learn whether its token is right.
    if (std::optional<ApiError> refused = origin_.check(req)) {
      send(res, *refused);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (origin_.add_cors(req, res)) return httplib::Server::HandlerResponse::Handled;
    const bool guarded =
        req.path.rfind("/api/", 0) == 0 || (req.path == "/metrics" && !options_.metrics_public);
    if (guarded && !authorized(req)) {
      res.set_header("WWW-Authenticate", "Bearer");
      send(res, {401, "unauthorized", "a valid bearer token is required"});
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!bodyless_post(req)) return httplib::Server::HandlerResponse::Unhandled;
    // No body will come: a route that takes none runs now, one that needs one says so.
    std::smatch m;
    const Route* route = find(req.method, req.path, m);
    if (route == nullptr) return httplib::Server::HandlerResponse::Unhandled;
    if (route->body == Body::json) {
      send(res, invalid_request("POST " + req.path + " needs a JSON body"));
    } else {
      Call call{req, res, m.size() > 1 ? m[1].str() : std::string(), json()};
      (this->*route->handler)(call);
    }
    return httplib::Server::HandlerResponse::Handled;
  });
  const httplib::Server::HandlerWithResponse on_error = [this](const Request& req, Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 404 && known_path(req.path)) {
      send(res, {405, "method_not_allowed", req.method + " is not allowed on " + req.path});
    } else {
      const std::string message =
          res.status == 404 ? "no route " + req.method + " " + req.path
                            : "request refused (" + std::string(code_for_status(res.status)) + ")";
      send(res, {res.status, code_for_status(res.status), message});
    }
    return httplib::Server::HandlerResponse::Handled;
  };
  server.set_error_handler(on_error);
  server.set_exception_handler([](const Request&, Response& res, std::exception_ptr e) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      what = x.what();
    } catch (...) {
    }
    send(res, {500, "internal", what});
  });
  server.set_access_log([this](const Request& req, const Response& res,
                               std::chrono::microseconds elapsed) { answered(req, res, elapsed); });
  for (const Route& route : table()) {
    const httplib::Server::Handler handler = [this, &route](const Request& req, Response& res) {
      Call call{req, res, req.matches.size() > 1 ? req.matches[1].str() : std::string(), json()};
      dispatch(route, call);
    };
    const std::string method = route.method;
    if (method == "GET") {
      server.Get(route.pattern, handler);
    } else if (method == "POST") {
      server.Post(route.pattern, handler);
    } else {
      server.Delete(route.pattern, handler);
    }
  }
  install_dashboard(server);
}

void Routes::submit(Call& c) {
  srv::ParsedSpec parsed = srv::parse_job_spec(c.body);
  if (!parsed) {
    send(c.res, {400, parsed.error.code, parsed.error.message});
    return;
  }
  reply(c.res, 201, jobs_.submit(std::move(*parsed.spec), std::move(c.body)));
}

void Routes::list(Call& c) {
  srv::ListQuery query;
  const Request& req = c.req;
  if (req.has_param("state")) {
    query.state = srv::parse_state(req.get_param_value("state"));
    if (!query.state) {
      send(c.res, invalid_request("unknown state " + req.get_param_value("state")));
      return;
    }
  }
  if (req.has_param("name")) query.name = req.get_param_value("name");
  if (req.has_param("limit")) {
    const std::string text = req.get_param_value("limit");
    std::size_t limit = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (ec != std::errc() || end != text.data() + text.size() || limit == 0 || limit > 1000) {
      send(c.res, invalid_request("limit must be an integer from 1 to 1000"));
      return;
    }
    query.limit = limit;
  }
  if (req.has_param("cursor")) {
    std::optional<srv::JobRef> ref = srv::parse_job_ref(req.get_param_value("cursor"));
    if (!ref || ref->step) {
      send(c.res, invalid_request("cursor must be a task id"));
      return;
    }
    query.before = ref->id;
  }
  srv::Result<srv::ListPage> page = jobs_.list(query);
  if (!page) {
    send(c.res, api_error(page.error()));
    return;
  }
  json items = json::array();
  for (const srv::JobSummary& s : page->jobs)
    items.push_back(srv::summary_json(s));
  json body{{"tasks", std::move(items)}};
  body["next_cursor"] =
      page->next_cursor ? json(srv::job_id_text(*page->next_cursor)) : json(nullptr);
  send(c.res, 200, body);
}

void Routes::get(Call& c) {
  if (std::optional<srv::JobRef> ref = job_ref(c.res, c.id)) {
    srv::Result<srv::JsonDoc> r = jobs_.get(*ref);
    if (r) {
      send_doc(c.res, 200, r.value());
    } else {
      send(c.res, api_error(r.error()));
    }
  }
}

void Routes::remove(Call& c) {
  if (std::optional<srv::JobRef> ref = job_ref(c.res, c.id)) reply(c.res, 200, jobs_.remove(*ref));
}

void Routes::wait(Call& c) {
  double timeout = 30;
  if (c.req.has_param("timeout")) {
    std::optional<double> t = seconds_param(c.req.get_param_value("timeout"));
    if (!t) {
      send(c.res, invalid_request("timeout must be a decimal number of seconds, e.g. 30 or 0.5"));
      return;
    }
    timeout = std::min(*t, kMaxWaitSeconds);
  }
  std::optional<srv::JobRef> ref = job_ref(c.res, c.id);
  if (!ref) return;
  // The request is parked in the transport: no thread waits for the job. The loop answers the
  // wait when the job ends; when the poll's time is up, the transport asks for the job as it is.
  // The handle is set before the wait starts, so before any thread can answer it.
  auto deferred = std::make_shared<std::shared_ptr<DeferredResponse>>();
  auto wait = std::make_shared<srv::JobWait>(
      *ref, [deferred](srv::Result<srv::Waited> r) { answer_wait(**deferred, r); });
  DeferredResponse::Options options;
  options.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(timeout * 1000));
  options.on_timeout = [this, wait] { jobs_.end_wait(wait, true); };
  options.on_gone = [this, wait] { jobs_.end_wait(wait, false); };
  *deferred = HttpServer::defer(c.req, std::move(options));
  if (!*deferred) {
    send(c.res, {503, "unavailable", "too many requests are waiting (--max-waiters)"});
    return;
  }
  jobs_.start_wait(wait);
}

void Routes::cancel(Call& c) {
  if (std::optional<srv::JobRef> ref = job_ref(c.res, c.id)) reply(c.res, 202, jobs_.cancel(*ref));
}

void Routes::set_timeout(Call& c) {
  const json& doc = c.body;
  if (!doc.is_object()) {
    send(c.res, invalid_request("$: expected an object"));
    return;
  }
  for (const auto& [key, v] : doc.items()) {
    if (key != "timeout") {
      send(c.res, invalid_request("$." + key + ": unknown key"));
      return;
    }
  }
  const json* t = doc.contains("timeout") ? &doc.at("timeout") : nullptr;
  if (t == nullptr || !t->is_number() || !std::isfinite(t->get<double>()) || t->get<double>() < 0) {
    send(c.res, invalid_request("$.timeout: expected a non-negative number"));
    return;
  }
  if (std::optional<srv::JobRef> ref = job_ref(c.res, c.id)) {
    reply(c.res, 202, jobs_.set_timeout(*ref, t->get<double>()));
  }
}

void Routes::output(Call& c) {
  std::optional<srv::JobRef> ref = job_ref(c.res, c.id);
  if (!ref) return;
  const std::string follow = c.req.get_param_value("follow");
  if (follow.empty() || follow == "0" || follow == "false") {
    reply(c.res, 200, jobs_.output(*ref));
    return;
  }
  if (!streams_.open()) {
    send(c.res, {503, "unavailable", "too many open event streams"});
    return;
  }
  auto channel = std::make_shared<srv::SseChannel>();
  srv::Result<srv::Done> r = jobs_.follow_output(*ref, channel);
  if (!r) {
    streams_.cancel();
    send(c.res, api_error(r.error()));
    return;
  }
  streams_.serve(c.res, std::move(channel), false);
}

void Routes::events(Call& c) {
  if (!streams_.open()) {
    send(c.res, {503, "unavailable", "too many open event streams"});
    return;
  }
  auto channel = std::make_shared<srv::SseChannel>();
  jobs_.subscribe_events(channel);
  streams_.serve(c.res, std::move(channel), true);
}

void Routes::stats(Call& c) {
  const srv::DaemonStats s = jobs_.stats();
  json states = json::object();
  for (srv::JobState state : srv::kAllJobStates)
    states[srv::state_name(state)] = s.counts[static_cast<std::size_t>(state)];
  send(c.res, 200,
       {{"tasks", std::move(states)},
        {"submitted_total", s.submitted_total},
        {"retained", s.retained},
        {"loop_lag_seconds", s.loop_lag_seconds},
        {"uptime_seconds", s.uptime_seconds},
        {"version", options_.version}});
}

void Routes::health(Call& c) {
  send(c.res, 200, {{"status", "ok"}});
}

void Routes::metrics(Call& c) {
  const srv::DaemonStats s = jobs_.stats();
  std::ostringstream out;
  out << "# HELP uasyncd_tasks Tasks known to the daemon, by state.\n"
      << "# TYPE uasyncd_tasks gauge\n";
  for (srv::JobState state : srv::kAllJobStates) {
    out << "uasyncd_tasks{state=\"" << srv::state_name(state) << "\"} "
        << s.counts[static_cast<std::size_t>(state)] << "\n";
  }
  out << "# HELP uasyncd_tasks_submitted_total Tasks submitted since start.\n"
      << "# TYPE uasyncd_tasks_submitted_total counter\n"
      << "uasyncd_tasks_submitted_total " << s.submitted_total << "\n"
      << "# HELP uasyncd_loop_lag_seconds How long the last command waited for the loop.\n"
      << "# TYPE uasyncd_loop_lag_seconds gauge\n"
      << "uasyncd_loop_lag_seconds " << s.loop_lag_seconds << "\n";
  c.res.set_content(out.str() + http_metrics(), "text/plain; version=0.0.4");
}

std::string Routes::http_metrics() const {
  std::ostringstream out;
  out << "# HELP uasyncd_http_requests_total HTTP requests answered, by status.\n"
      << "# TYPE uasyncd_http_requests_total counter\n";
  std::lock_guard lock(mu_);
  for (const auto& [status, n] : by_status_) {
    out << "uasyncd_http_requests_total{status=\"" << status << "\"} " << n << "\n";
  }
  return out.str();
}

void Routes::answered(const Request& req, const Response& res, std::chrono::microseconds elapsed) {
  {
    std::lock_guard lock(mu_);
    ++by_status_[res.status];
  }
  if (options_.on_request) options_.on_request(req.method, req.path, res.status, elapsed.count());
}

}  // namespace uasyncd::api
