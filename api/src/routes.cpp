#include "uasyncd/api/routes.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <regex>
#include <sstream>
#include <utility>

#include "uasyncd/api/bulk_request.hpp"
#include "uasyncd/api/dashboard.hpp"
#include "uasyncd/api/json_body.hpp"
#include "uasyncd/job/job_json.hpp"
#include "uasyncd/service/schedule_definition.hpp"

namespace uasyncd::api {
namespace {

using httplib::Request;
using httplib::Response;
using nlohmann::json;
namespace srv = server;

constexpr double kMaxWaitSeconds = 300;

// A run of a schedule is made by the daemon; a client that could label its own tasks so would
// make a schedule's history lie.
const std::string kScheduleKeyRefused =
    "$.schedule: set by the daemon on a schedule's runs, not by a submit (POST /api/schedules "
    "makes a schedule)";

constexpr const char* kFeatures[] = {"events.removed", "tasks.search",  "tasks.paging",
                                     "stats.history",  "events.follow", "tasks.bulk",
                                     "schedules",      "queues",        "instances"};

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

// A POST (or PUT) with neither Content-Length nor chunked encoding, as `curl -X POST url` sends
// it: it has no body, but cpp-httplib would try to read one up to the connection's end and
// refuse it.
bool bodyless_post(const Request& req) {
  return (req.method == "POST" || req.method == "PUT") && !req.has_header("Content-Length") &&
         !req.has_header("Transfer-Encoding");
}

// A number of seconds in plain decimal ("30", "0.25"): no sign, exponent, hex, inf or spaces,
// which std::stod would all take ("0x1" was one second).
std::optional<double> seconds_param(std::string_view text) {
  const std::size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view fraction =
      dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  const auto digits = [](std::string_view s) {
    return !s.empty() && s.size() <= 12 &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!digits(whole) || (dot != std::string_view::npos && !digits(fraction))) return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

// An Idempotency-Key is a client's token (a UUID, say), stored and indexed with the task.
bool idempotency_key_ok(const std::string& key) {
  return !key.empty() && key.size() <= 255 &&
         std::all_of(key.begin(), key.end(), [](char c) { return c > ' ' && c < 127; });
}

// 128 random bits in hex: the id of an event stream, a capability for PUT .../follow.
std::string random_stream_id() {
  std::random_device random;
  std::string out;
  for (int i = 0; i < 4; ++i) {
    char part[9];
    std::snprintf(part, sizeof part, "%08x", static_cast<unsigned>(random()));
    out += part;
  }
  return out;
}

json features_json() {
  json out = json::array();
  for (const char* f : kFeatures)
    out.push_back(f);
  return out;
}

void send_doc(Response& res, int status, const srv::JsonDoc& doc) {
  if (doc.text) {
    res.status = status;
    res.set_content(*doc.text, "application/json");
  } else {
    send(res, status, doc.json);
  }
}

// A long-poll's answer, given to the transport that parked its request: `finished_status` when
// the job has finished, 202 with the job as it is when the poll's time ran out.
void answer_wait(DeferredResponse& deferred, const srv::Result<srv::Waited>& r,
                 int finished_status) {
  Response res;
  if (r) {
    send_doc(res, r.value().finished ? finished_status : 202, r.value().job);
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

// The schedule a path names; answers 404 (and returns false) for a name no schedule can have.
bool schedule_name(Response& res, const std::string& name) {
  if (srv::schedule_name_ok(name)) return true;
  send(res,
       {404, "not_found", "no schedule of that name (names are 1 to 128 of A-Z a-z 0-9 . _ -)"});
  return false;
}

// The queue a path names; answers 404 (and returns false) for a name no queue can have.
bool queue_name(Response& res, const std::string& name) {
  if (srv::queue_name_ok(name)) return true;
  send(res, {404, "not_found", "no queue of that name (names are 1 to 128 of A-Z a-z 0-9 . _ -)"});
  return false;
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

std::span<const char* const> features() {
  return kFeatures;
}

const std::vector<Routes::Route>& Routes::table() {
  // "bulk" is not a task id: GET or DELETE /api/tasks/bulk is a wrong method (405), not a task
  // that is not there.
  static const std::vector<Route> routes{
      {"POST", "/api/tasks", Body::specs, &Routes::submit},
      {"GET", "/api/tasks", Body::none, &Routes::list},
      {"POST", "/api/tasks/bulk", Body::json, &Routes::bulk},
      {"GET", R"(/api/tasks/((?!bulk$)[^/]+))", Body::none, &Routes::get},
      {"DELETE", R"(/api/tasks/((?!bulk$)[^/]+))", Body::none, &Routes::remove},
      {"GET", R"(/api/tasks/([^/]+)/wait)", Body::none, &Routes::wait},
      {"POST", R"(/api/tasks/([^/]+)/cancel)", Body::none, &Routes::cancel},
      {"POST", R"(/api/tasks/([^/]+)/timeout)", Body::json, &Routes::set_timeout},
      {"GET", R"(/api/tasks/([^/]+)/output)", Body::none, &Routes::output},
      {"GET", "/api/events", Body::none, &Routes::events},
      {"PUT", R"(/api/events/([^/]+)/follow)", Body::json, &Routes::follow},
      {"POST", "/api/schedules", Body::json, &Routes::add_schedule},
      {"GET", "/api/schedules", Body::none, &Routes::list_schedules},
      {"GET", R"(/api/schedules/([^/]+))", Body::none, &Routes::get_schedule},
      {"DELETE", R"(/api/schedules/([^/]+))", Body::none, &Routes::remove_schedule},
      {"POST", R"(/api/schedules/([^/]+)/pause)", Body::none, &Routes::pause_schedule},
      {"POST", R"(/api/schedules/([^/]+)/resume)", Body::none, &Routes::resume_schedule},
      {"POST", R"(/api/schedules/([^/]+)/trigger)", Body::none, &Routes::trigger_schedule},
      {"GET", "/api/queues", Body::none, &Routes::list_queues},
      {"GET", "/api/instances", Body::none, &Routes::instances},
      {"GET", R"(/api/queues/([^/]+))", Body::none, &Routes::get_queue},
      {"PUT", R"(/api/queues/([^/]+))", Body::json, &Routes::set_queue},
      {"GET", "/api/stats", Body::none, &Routes::stats},
      {"GET", "/api/stats/history", Body::none, &Routes::history},
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

ApiError Routes::no_route(const Request& req) const {
  if (known_path(req.path)) {
    return {405, "method_not_allowed", req.method + " is not allowed on " + req.path};
  }
  return {404, "not_found", "no route " + req.method + " " + req.path};
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
  if (route.body == Body::specs) {
    const std::string type = call.req.get_header_value("Content-Type");
    ApiError error;
    std::optional<json> doc;
    if (is_ndjson_type(type)) {
      doc = parse_ndjson_body(call.req.body, error, kMaxBatchBodyBytes, kMaxBatchTasks);
    } else if (is_json_type(type)) {
      doc = parse_json_body(call.req.body, error, kMaxBatchBodyBytes, kMaxBatchTasks);
      // The larger limit is for batches; one spec keeps the limit of every other body.
      if (doc && !doc->is_array() && call.req.body.size() > kMaxBodyBytes) {
        doc.reset();
        error = {413, "payload_too_large",
                 "the body is larger than " + std::to_string(kMaxBodyBytes) +
                     " bytes (a batch, a JSON array of specs, may be larger)"};
      }
    } else {
      send(call.res, {415, "unsupported_media_type",
                      "send the body as application/json (a spec, or an array of specs) or "
                      "application/x-ndjson (one spec per line)"});
      return;
    }
    if (!doc) {
      send(call.res, error);
      return;
    }
    call.body = std::move(*doc);
  } else if (route.body == Body::json) {
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
  server_ = &server;
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
    // No body will come: a route that takes none runs now, one that needs one says so, and no
    // route is answered here too (cpp-httplib would wait for a body and answer 400).
    std::smatch m;
    const Route* route = find(req.method, req.path, m);
    if (route == nullptr) {
      send(res, no_route(req));
    } else if (route->body != Body::none) {
      send(res, invalid_request("POST " + req.path + " needs a JSON body"));
    } else {
      Call call{req, res, m.size() > 1 ? m[1].str() : std::string(), json()};
      (this->*route->handler)(call);
    }
    return httplib::Server::HandlerResponse::Handled;
  });
  const httplib::Server::HandlerWithResponse on_error = [this](const Request& req, Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 404) {
      send(res, no_route(req));
    } else {
      send(res, {res.status, code_for_status(res.status),
                 "request refused (" + std::string(code_for_status(res.status)) + ")"});
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
      server.Post(route.pattern, handler, route.body == Body::specs ? kMaxBatchBodyBytes : 0);
    } else if (method == "PUT") {
      server.Put(route.pattern, handler);
    } else {
      server.Delete(route.pattern, handler);
    }
  }
  install_dashboard(server);
}

std::optional<std::string> Routes::idempotency_key(Call& c) {
  if (!c.req.has_header("Idempotency-Key")) return std::string();
  std::string key = c.req.get_header_value("Idempotency-Key");
  if (!idempotency_key_ok(key)) {
    send(c.res, invalid_request("Idempotency-Key must be 1 to 255 printable ASCII characters"));
    return std::nullopt;
  }
  return key;
}

std::optional<std::optional<double>> Routes::wait_param(Call& c, const char* name) {
  if (!c.req.has_param(name)) return std::optional<double>();
  std::optional<double> t = seconds_param(c.req.get_param_value(name));
  if (!t) {
    send(c.res, invalid_request(std::string(name) +
                                " must be a decimal number of seconds, e.g. 30 or 0.5"));
    return std::nullopt;
  }
  return std::optional<double>(std::min(*t, kMaxWaitSeconds));
}

void Routes::submit(Call& c) {
  const std::optional<std::optional<double>> wait = wait_param(c, "wait");
  if (!wait) return;
  if (c.body.is_array()) {
    if (*wait) {
      send(c.res, invalid_request("wait applies to one task; a batch is answered once stored"));
      return;
    }
    submit_batch(c);
    return;
  }
  srv::ParsedSpec parsed = srv::parse_job_spec(c.body);
  if (!parsed) {
    send(c.res, {400, parsed.error.code, parsed.error.message});
    return;
  }
  if (!parsed.spec->schedule.empty()) {
    send(c.res, {400, "invalid_spec", kScheduleKeyRefused});
    return;
  }
  std::optional<std::string> key = idempotency_key(c);
  if (!key) return;
  srv::Result<srv::Submission> r =
      jobs_.submit(std::move(*parsed.spec), std::move(c.body), std::move(*key));
  if (!r) {
    send(c.res, api_error(r.error()));
    return;
  }
  const int status = r->replayed ? 200 : 201;
  if (!*wait) {
    send(c.res, status, r->job);
    return;
  }
  // Submit and wait in one round trip: parked as GET .../wait is; a wait that cannot be parked
  // gets the task as it is (it was made: the submit is not refused).
  const std::optional<srv::JobRef> ref = srv::parse_job_ref(r->job.value("id", ""));
  if (!ref || !park_wait(c, *ref, **wait, status)) send(c.res, 202, r->job);
}

void Routes::submit_batch(Call& c) {
  json& specs = c.body;
  if (specs.empty() || specs.size() > kMaxBatchTasks) {
    const ApiError e{specs.empty() ? 400 : 413,
                     specs.empty() ? "invalid_request" : "payload_too_large",
                     "$: a batch holds 1 to " + std::to_string(kMaxBatchTasks) + " specs, got " +
                         std::to_string(specs.size())};
    send(c.res, e);
    return;
  }
  std::vector<srv::SubmitItem> items;
  items.reserve(specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    srv::ParsedSpec parsed = srv::parse_job_spec(specs[i]);
    if (!parsed) {
      // The spec's own path ("$.sequence[0]...") becomes the batch's ("$[i].sequence[0]...").
      std::string message = "$[" + std::to_string(i) + "]";
      const std::string& own = parsed.error.message;
      message += own.rfind('$', 0) == 0 ? own.substr(1) : ": " + own;
      send(c.res, {400, parsed.error.code, std::move(message)});
      return;
    }
    if (!parsed.spec->schedule.empty()) {
      send(c.res,
           {400, "invalid_spec", "$[" + std::to_string(i) + "]" + kScheduleKeyRefused.substr(1)});
      return;
    }
    items.push_back({std::move(*parsed.spec), std::move(specs[i]), {}});
  }
  std::optional<std::string> key = idempotency_key(c);
  if (!key) return;
  srv::Result<srv::BatchSubmission> r = jobs_.submit_all(std::move(items), std::move(*key));
  if (!r) {
    send(c.res, api_error(r.error()));
    return;
  }
  json ids = json::array();
  for (std::uint64_t id : r->ids)
    ids.push_back(srv::job_id_text(id));
  send(c.res, r->replayed ? 200 : 201, {{"ids", std::move(ids)}, {"replayed", r->replayed}});
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
  if (req.has_param("q") && !req.get_param_value("q").empty()) {
    const std::string q = req.get_param_value("q");
    if (std::optional<std::string> why = name_part_error(q)) {
      send(c.res, invalid_request("q " + *why));
      return;
    }
    query.name_contains = q;
  }
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
  // The page's position: at most one of these.
  const std::string last = req.get_param_value("last");
  if (!last.empty() && last != "0" && last != "1" && last != "true" && last != "false") {
    send(c.res, invalid_request("last must be 1 or 0"));
    return;
  }
  query.last = last == "1" || last == "true";
  if (static_cast<int>(req.has_param("cursor")) + static_cast<int>(req.has_param("after")) +
          static_cast<int>(query.last) >
      1) {
    send(c.res, invalid_request("use one of cursor, after, last"));
    return;
  }
  for (const char* key : {"cursor", "after"}) {
    if (!req.has_param(key)) continue;
    std::optional<srv::JobRef> ref = srv::parse_job_ref(req.get_param_value(key));
    if (!ref || ref->step) {
      send(c.res, invalid_request(std::string(key) + " must be a task id"));
      return;
    }
    (std::string_view(key) == "cursor" ? query.before : query.after) = ref->id;
  }
  query.count = true;
  srv::Result<srv::ListPage> page = jobs_.list(query);
  if (!page) {
    send(c.res, api_error(page.error()));
    return;
  }
  json items = json::array();
  for (const srv::JobSummary& s : page->jobs)
    items.push_back(srv::summary_json(s));
  const auto id_or_null = [](const std::optional<std::uint64_t>& id) {
    return id ? json(srv::job_id_text(*id)) : json(nullptr);
  };
  json body{{"tasks", std::move(items)}};
  body["next_cursor"] = id_or_null(page->next_cursor);
  body["prev_cursor"] = id_or_null(page->prev_cursor);
  body["total"] = page->total;
  body["total_capped"] = page->total_capped;
  body["offset"] = page->offset ? json(*page->offset) : json(nullptr);
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
  const std::optional<std::optional<double>> timeout = wait_param(c, "timeout");
  if (!timeout) return;
  std::optional<srv::JobRef> ref = job_ref(c.res, c.id);
  if (!ref) return;
  if (!park_wait(c, *ref, timeout->value_or(30), 200)) {
    send(c.res, {503, "unavailable", "too many requests are waiting (--max-waiters)"});
  }
}

bool Routes::park_wait(Call& c, const srv::JobRef& ref, double timeout, int finished_status) {
  // The request is parked in the transport: no thread waits for the job. The loop answers the
  // wait when the job ends; when the poll's time is up, the transport asks for the job as it is.
  // The handle is set before the wait starts, so before any thread can answer it.
  auto deferred = std::make_shared<std::shared_ptr<DeferredResponse>>();
  auto wait =
      std::make_shared<srv::JobWait>(ref, [deferred, finished_status](srv::Result<srv::Waited> r) {
        answer_wait(**deferred, r, finished_status);
      });
  DeferredResponse::Options options;
  options.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(timeout * 1000));
  options.on_timeout = [this, wait] { jobs_.end_wait(wait, true); };
  options.on_gone = [this, wait] { jobs_.end_wait(wait, false); };
  *deferred = HttpServer::defer(c.req, std::move(options));
  if (!*deferred) return false;
  jobs_.start_wait(wait);
  return true;
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

void Routes::bulk(Call& c) {
  ApiError error;
  std::optional<srv::BulkRequest> request = parse_bulk_request(c.body, error);
  if (!request) {
    send(c.res, error);
    return;
  }
  srv::Result<srv::BulkResult> r = jobs_.bulk(*request);
  if (!r) {
    send(c.res, api_error(r.error()));
    return;
  }
  send(c.res, 200, bulk_json(*request, r.value()));
}

void Routes::events(Call& c) {
  if (!streams_.open()) {
    send(c.res, {503, "unavailable", "too many open event streams"});
    return;
  }
  auto channel = std::make_shared<srv::SseChannel>();
  // The greeting names the stream, for PUT /api/events/{stream}/follow; it goes first.
  const std::string id = random_stream_id();
  channel->push_frame(srv::sse_frame("hello", {{"stream", id}, {"features", features_json()}}));
  if (!jobs_.open_event_stream(id, channel)) {  // 128 random bits taken twice: never
    streams_.cancel();
    send(c.res, {500, "internal", "event stream id taken"});
    return;
  }
  streams_.serve(c.res, std::move(channel), true, [this, id] { jobs_.close_event_stream(id); });
}

void Routes::follow(Call& c) {
  const json& doc = c.body;
  const auto refuse = [&](const std::string& message) { send(c.res, invalid_request(message)); };
  if (!doc.is_object()) return refuse("$: expected an object");
  for (const auto& [key, v] : doc.items()) {
    if (key != "tasks") return refuse("$." + key + ": unknown key");
  }
  const json* tasks = doc.contains("tasks") ? &doc.at("tasks") : nullptr;
  if (tasks == nullptr || !tasks->is_array()) {
    return refuse("$.tasks: expected an array of task or step ids");
  }
  if (tasks->size() > srv::kMaxFollowed) {
    return refuse("$.tasks: at most " + std::to_string(srv::kMaxFollowed) + " ids");
  }
  std::vector<srv::JobRef> refs;
  for (std::size_t i = 0; i < tasks->size(); ++i) {
    const json& v = (*tasks)[i];
    std::optional<srv::JobRef> ref =
        v.is_string() ? srv::parse_job_ref(v.get<std::string>()) : std::nullopt;
    if (!ref) return refuse("$.tasks[" + std::to_string(i) + "]: not a task or step id");
    refs.push_back(*ref);
  }
  srv::Result<srv::Following> r = jobs_.follow(c.id, refs);
  if (!r) {
    send(c.res, api_error(r.error()));
    return;
  }
  send(c.res, 200, {{"following", r->following}, {"unknown", r->unknown}});
}

void Routes::add_schedule(Call& c) {
  srv::ParsedSchedule parsed = srv::parse_schedule_request(c.body, srv::wall_ms());
  if (!parsed) {
    send(c.res, invalid_request(std::move(parsed.message)));
    return;
  }
  reply(c.res, 201, jobs_.add_schedule(std::move(*parsed.definition)));
}

void Routes::list_schedules(Call& c) {
  reply(c.res, 200, jobs_.list_schedules());
}

void Routes::get_schedule(Call& c) {
  if (schedule_name(c.res, c.id)) reply(c.res, 200, jobs_.get_schedule(c.id));
}

void Routes::remove_schedule(Call& c) {
  if (schedule_name(c.res, c.id)) reply(c.res, 200, jobs_.remove_schedule(c.id));
}

void Routes::pause_schedule(Call& c) {
  if (schedule_name(c.res, c.id)) reply(c.res, 200, jobs_.pause_schedule(c.id, true));
}

void Routes::resume_schedule(Call& c) {
  if (schedule_name(c.res, c.id)) reply(c.res, 200, jobs_.pause_schedule(c.id, false));
}

void Routes::trigger_schedule(Call& c) {
  if (schedule_name(c.res, c.id)) reply(c.res, 201, jobs_.trigger_schedule(c.id));
}

void Routes::instances(Call& c) {
  reply(c.res, 200, jobs_.instances());
}

void Routes::list_queues(Call& c) {
  reply(c.res, 200, jobs_.list_queues());
}

void Routes::get_queue(Call& c) {
  if (queue_name(c.res, c.id)) reply(c.res, 200, jobs_.get_queue(c.id));
}

void Routes::set_queue(Call& c) {
  if (!queue_name(c.res, c.id)) return;
  const json& doc = c.body;
  if (!doc.is_object() || doc.empty()) {
    send(c.res, invalid_request("$: expected an object with max_running, paused or both"));
    return;
  }
  std::optional<std::size_t> max_running;
  std::optional<bool> paused;
  for (const auto& [key, v] : doc.items()) {
    if (key == "max_running") {
      if (!v.is_number_unsigned() || v.get<std::uint64_t>() > 1'000'000) {
        send(c.res, invalid_request("$.max_running: expected a whole number from 0 (no limit) "
                                    "to 1000000"));
        return;
      }
      max_running = v.get<std::size_t>();
    } else if (key == "paused") {
      if (!v.is_boolean()) {
        send(c.res, invalid_request("$.paused: expected true or false"));
        return;
      }
      paused = v.get<bool>();
    } else {
      send(c.res, invalid_request("$: unknown key (expected max_running, paused)"));
      return;
    }
  }
  reply(c.res, 200, jobs_.set_queue(c.id, max_running, paused));
}

void Routes::stats(Call& c) {
  const srv::DaemonStats s = jobs_.stats();
  json states = json::object();
  json finished = json::object();
  for (srv::JobState state : srv::kAllJobStates) {
    const std::size_t i = static_cast<std::size_t>(state);
    states[srv::state_name(state)] = s.counts[i];
    if (srv::is_final(state)) finished[srv::state_name(state)] = s.finished_total[i];
  }
  send(c.res, 200,
       {{"tasks", std::move(states)},
        {"submitted_total", s.submitted_total},
        {"finished_total", std::move(finished)},
        {"retained", s.retained},
        {"loop_lag_seconds", s.loop_lag_seconds},
        {"uptime_seconds", s.uptime_seconds},
        {"version", options_.version},
        {"max_running", options_.max_running},
        {"keep_finished", options_.keep_finished},
        {"features", features_json()}});
}

void Routes::history(Call& c) {
  srv::Result<srv::FinishedHistory::Snapshot> r = jobs_.finished_history();
  if (!r) {
    send(c.res, api_error(r.error()));
    return;
  }
  json finished = json::object();
  for (std::size_t s = 0; s < srv::FinishedHistory::kFinalStates; ++s) {
    finished[srv::state_name(srv::FinishedHistory::kStates[s])] = r->counts[s];
  }
  send(c.res, 200, {{"resolution", 1}, {"end", r->end}, {"finished", std::move(finished)}});
}

void Routes::health(Call& c) {
  // A daemon that cannot store tasks cannot take any: a load balancer or orchestrator should
  // send them elsewhere (or restart it) until it can. The reason names files or database hosts,
  // and /healthz needs no token: it goes to the log, not to the answer.
  if (jobs_.store_unavailable()) {
    send(c.res, 503,
         {{"status", "unavailable"},
          {"error",
           {{"code", "store_unavailable"},
            {"message", "the task store cannot be used now; the daemon's log says why"}}}});
    return;
  }
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
      << "# HELP uasyncd_tasks_finished_total Tasks that reached a final state since start.\n"
      << "# TYPE uasyncd_tasks_finished_total counter\n";
  for (srv::JobState state : srv::kAllJobStates) {
    if (!srv::is_final(state)) continue;
    out << "uasyncd_tasks_finished_total{state=\"" << srv::state_name(state) << "\"} "
        << s.finished_total[static_cast<std::size_t>(state)] << "\n";
  }
  out << "# HELP uasyncd_loop_lag_seconds How long the last command waited for the loop.\n"
      << "# TYPE uasyncd_loop_lag_seconds gauge\n"
      << "uasyncd_loop_lag_seconds " << s.loop_lag_seconds << "\n";
  // Asks the database (one round trip): a scrape, like a health check, is occasional.
  const auto asked = std::chrono::steady_clock::now();
  const bool store_available = !jobs_.store_unavailable();
  const double round_trip =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - asked).count();
  out << "# HELP uasyncd_store_check_seconds How long the store's availability check took (a "
         "database: one round trip).\n"
      << "# TYPE uasyncd_store_check_seconds gauge\n"
      << "uasyncd_store_check_seconds " << round_trip << "\n";
  if (s.lease_age_seconds) {
    out << "# HELP uasyncd_cluster_lease_age_seconds Time since this instance last renewed its "
           "lease (cluster mode).\n"
        << "# TYPE uasyncd_cluster_lease_age_seconds gauge\n"
        << "uasyncd_cluster_lease_age_seconds " << *s.lease_age_seconds << "\n";
  }
  out << "# HELP uasyncd_store_available 1 while the task store can commit, else 0.\n"
      << "# TYPE uasyncd_store_available gauge\n"
      << "uasyncd_store_available " << (store_available ? 1 : 0) << "\n"
      << "# HELP uasyncd_store_commit_seconds Time spent in the task store's group commits (the "
         "mean latency: rate of _sum over rate of _count).\n"
      << "# TYPE uasyncd_store_commit_seconds summary\n"
      << "uasyncd_store_commit_seconds_sum " << s.store.commit_seconds << "\n"
      << "uasyncd_store_commit_seconds_count " << s.store.commits << "\n"
      << "# HELP uasyncd_store_rows_total Rows the task store's commits wrote.\n"
      << "# TYPE uasyncd_store_rows_total counter\n"
      << "uasyncd_store_rows_total " << s.store.rows << "\n"
      << "# HELP uasyncd_store_fenced_total Stale writes the store dropped (an earlier "
         "attempt's).\n"
      << "# TYPE uasyncd_store_fenced_total counter\n"
      << "uasyncd_store_fenced_total " << s.store.fenced << "\n";
  c.res.set_content(out.str() + http_metrics(), "text/plain; version=0.0.4");
}

std::string Routes::http_metrics() const {
  std::ostringstream out;
  out << "# HELP uasyncd_http_requests_total HTTP requests answered, by status.\n"
      << "# TYPE uasyncd_http_requests_total counter\n";
  {
    std::lock_guard lock(mu_);
    for (const auto& [status, n] : by_status_) {
      out << "uasyncd_http_requests_total{status=\"" << status << "\"} " << n << "\n";
    }
  }
  if (server_ != nullptr) {
    const HttpServer::Stats h = server_->stats();
    out << "# HELP uasyncd_http_open_connections Client connections open now.\n"
        << "# TYPE uasyncd_http_open_connections gauge\n"
        << "uasyncd_http_open_connections " << h.open_connections << "\n"
        << "# HELP uasyncd_http_waiting_requests Long-polls waiting for their answer "
           "(--max-waiters "
           "caps them).\n"
        << "# TYPE uasyncd_http_waiting_requests gauge\n"
        << "uasyncd_http_waiting_requests " << h.deferred << "\n";
  }
  out << "# HELP uasyncd_http_event_streams Event streams open now (--max-sse caps them).\n"
      << "# TYPE uasyncd_http_event_streams gauge\n"
      << "uasyncd_http_event_streams " << streams_.open_count() << "\n";
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
