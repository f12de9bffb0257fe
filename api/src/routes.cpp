#include "uasyncd/api/routes.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <functional>
#include <regex>
#include <sstream>
#include <thread>
#include <utility>

#include "uasyncd/api/dashboard.hpp"

namespace uasyncd::api {
namespace {

using httplib::Request;
using httplib::Response;
using nlohmann::json;

constexpr const char* kTaskPath = R"(/api/tasks/([^/]+))";
constexpr double kMaxWaitSeconds = 300;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool is_json(const Request& req) {
  const std::string type = lower(req.get_header_value("Content-Type"));
  const std::string_view want = "application/json";
  return type.compare(0, want.size(), want) == 0 &&
         (type.size() == want.size() || type[want.size()] == ';' || type[want.size()] == ' ');
}

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

bool known_path(const std::string& path) {
  static const std::regex known(
      R"(/api/tasks|/api/tasks/[^/]+(/wait|/cancel|/timeout|/output)?|/api/events|/api/stats|/healthz|/metrics)");
  return std::regex_match(path, known);
}

const char* code_for(int status) {
  switch (status) {
    case 400:
      return "bad_request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 409:
      return "conflict";
    case 413:
      return "payload_too_large";
    case 415:
      return "unsupported_media_type";
    case 503:
      return "unavailable";
    default:
      return status >= 500 ? "internal" : "error";
  }
}

// Answers a parked long-poll (from the loop thread): the transport writes it.
struct DeferredWaiter final : TaskWaiter {
  void answer(Reply reply) override {
    Response res;
    send(res, reply);
    deferred->complete(res);
  }
  std::shared_ptr<DeferredResponse> deferred;  // set before the waiter is handed to the service
};

// How long an SSE handler blocks at most before it looks at the stop flag again.
constexpr std::chrono::milliseconds kSseSlice{200};

}  // namespace

struct Routes::SseState {
  std::shared_ptr<SseChannel> channel;
  bool batched = false;
  bool greeted = false;
  std::chrono::steady_clock::time_point last_write;
  std::chrono::steady_clock::time_point next_batch;
};

void send(Response& res, const Reply& reply) {
  res.status = reply.status;
  if (reply.raw_body) {
    res.set_content(*reply.raw_body, "application/json");
    return;
  }
  res.set_content(reply.body.dump(-1, ' ', false, json::error_handler_t::replace),
                  "application/json");
}

Routes::Routes(Service& service, RouteOptions options)
    : service_(service), options_(std::move(options)) {}

bool Routes::authorized(const Request& req) const {
  if (options_.token.empty()) return true;
  const std::string header = req.get_header_value("Authorization");
  const std::string_view prefix = "Bearer ";
  if (header.compare(0, prefix.size(), prefix) != 0) return false;
  return constant_time_equal(std::string_view(header).substr(prefix.size()), options_.token);
}

void Routes::install(HttpServer& server) {
  server.set_pre_routing_handler([this](const Request& req, Response& res) {
    if (req.path.rfind("/api/", 0) == 0 && !authorized(req)) {
      res.set_header("WWW-Authenticate", "Bearer");
      send(res, error_reply(401, "unauthorized", "a valid bearer token is required"));
      return httplib::Server::HandlerResponse::Handled;
    }
    if (bodyless_post(req)) return answer_bodyless_post(req, res);
    return httplib::Server::HandlerResponse::Unhandled;
  });
  const httplib::Server::HandlerWithResponse on_error = [](const Request& req, Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 404 && known_path(req.path)) {
      send(res,
           error_reply(405, "method_not_allowed", req.method + " is not allowed on " + req.path));
    } else {
      const std::string message =
          res.status == 404 ? "no route " + req.method + " " + req.path
                            : "request refused (" + std::string(code_for(res.status)) + ")";
      send(res, error_reply(res.status, code_for(res.status), message));
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
    send(res, error_reply(500, "internal", what));
  });
  server.set_access_log([this](const Request& req, const Response& res,
                               std::chrono::microseconds elapsed) { answered(req, res, elapsed); });

  server.Post("/api/tasks", [this](const Request& req, Response& res) { submit(req, res); });
  server.Get("/api/tasks", [this](const Request& req, Response& res) { list(req, res); });
  server.Get(kTaskPath, [this](const Request& req, Response& res) {
    send(res, service_.get(req.matches[1]));
  });
  server.Delete(kTaskPath, [this](const Request& req, Response& res) {
    send(res, service_.remove(req.matches[1]));
  });
  server.Get(R"(/api/tasks/([^/]+)/wait)",
             [this](const Request& req, Response& res) { wait(req, res); });
  server.Post(R"(/api/tasks/([^/]+)/cancel)", [this](const Request& req, Response& res) {
    send(res, service_.cancel(req.matches[1]));
  });
  server.Post(R"(/api/tasks/([^/]+)/timeout)",
              [this](const Request& req, Response& res) { set_timeout(req, res); });
  server.Get(R"(/api/tasks/([^/]+)/output)",
             [this](const Request& req, Response& res) { output(req, res); });
  server.Get("/api/events", [this](const Request&, Response& res) { events(res); });
  server.Get("/api/stats", [this](const Request&, Response& res) { send(res, service_.stats()); });
  server.Get("/healthz", [](const Request&, Response& res) {
    send(res, {200, {{"status", "ok"}}});
  });
  server.Get("/metrics", [this](const Request&, Response& res) { metrics(res); });
  install_dashboard(server);
}

httplib::Server::HandlerResponse Routes::answer_bodyless_post(const Request& req, Response& res) {
  static const std::regex cancel_path(R"(/api/tasks/([^/]+)/cancel)");
  static const std::regex with_body(R"(/api/tasks(/[^/]+/timeout)?)");
  std::smatch m;
  if (std::regex_match(req.path, m, cancel_path)) {
    send(res, service_.cancel(m[1]));
  } else if (std::regex_match(req.path, with_body)) {
    send(res, error_reply(400, "bad_request", "POST " + req.path + " needs a JSON body"));
  } else {
    return httplib::Server::HandlerResponse::Unhandled;
  }
  return httplib::Server::HandlerResponse::Handled;
}

void Routes::submit(const Request& req, Response& res) {
  if (!is_json(req)) {
    send(res, error_reply(415, "unsupported_media_type", "send the spec as application/json"));
    return;
  }
  SpecError error;
  std::optional<json> doc = parse_json_body(req.body, error);
  if (!doc) {
    send(res, error_reply(error.status, error.code, error.message));
    return;
  }
  ParsedSpec parsed = parse_spec(*doc);
  if (!parsed) {
    send(res, error_reply(parsed.error.status, parsed.error.code, parsed.error.message));
    return;
  }
  if (parsed.spec->uses_exec && !options_.allow_exec) {
    send(res, error_reply(403, "forbidden", "exec steps need the daemon to run with --allow-exec"));
    return;
  }
  send(res, service_.submit(std::move(*parsed.spec), std::move(*doc)));
}

void Routes::list(const Request& req, Response& res) {
  ListQuery query;
  if (req.has_param("state")) {
    query.state = parse_state(req.get_param_value("state"));
    if (!query.state) {
      send(res, error_reply(400, "bad_request", "unknown state " + req.get_param_value("state")));
      return;
    }
  }
  if (req.has_param("name")) query.name = req.get_param_value("name");
  if (req.has_param("limit")) {
    const std::string text = req.get_param_value("limit");
    std::size_t limit = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (ec != std::errc() || end != text.data() + text.size() || limit == 0 || limit > 1000) {
      send(res, error_reply(400, "bad_request", "limit must be an integer from 1 to 1000"));
      return;
    }
    query.limit = limit;
  }
  if (req.has_param("cursor")) {
    std::optional<TaskRef> ref = parse_task_ref(req.get_param_value("cursor"));
    if (!ref || ref->step) {
      send(res, error_reply(400, "bad_request", "cursor must be a task id"));
      return;
    }
    query.before = ref->seq;
  }
  send(res, service_.list(query));
}

void Routes::wait(const Request& req, Response& res) {
  double timeout = 30;
  if (req.has_param("timeout")) {
    std::optional<double> t = seconds_param(req.get_param_value("timeout"));
    if (!t) {
      send(res, error_reply(400, "bad_request", "timeout must be a decimal number of seconds"));
      return;
    }
    timeout = std::min(*t, kMaxWaitSeconds);
  }
  // The request is parked in the transport: no thread waits for the task. The service answers
  // the waiter when the task ends; the transport's timeout asks it for the task as it is.
  const std::string id = req.matches[1];
  auto waiter = std::make_shared<DeferredWaiter>();
  const std::weak_ptr<TaskWaiter> weak = waiter;
  DeferredResponse::Options options;
  options.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(timeout * 1000));
  options.on_timeout = [this, id, weak] {
    if (std::shared_ptr<TaskWaiter> w = weak.lock()) service_.end_wait(id, std::move(w), true);
  };
  options.on_gone = [this, id, weak] {
    if (std::shared_ptr<TaskWaiter> w = weak.lock()) service_.end_wait(id, std::move(w), false);
  };
  waiter->deferred = HttpServer::defer(req, std::move(options));
  if (!waiter->deferred) {
    send(res, error_reply(503, "unavailable", "too many requests are waiting (--max-waiters)"));
    return;
  }
  service_.wait(id, std::move(waiter));
}

void Routes::set_timeout(const Request& req, Response& res) {
  if (!is_json(req)) {
    send(res,
         error_reply(415, "unsupported_media_type", "send {\"timeout\": S} as application/json"));
    return;
  }
  SpecError error;
  std::optional<json> doc = parse_json_body(req.body, error);
  if (!doc) {
    send(res, error_reply(error.status, error.code, error.message));
    return;
  }
  if (!doc->is_object()) {
    send(res, error_reply(400, "invalid_request", "$: expected an object"));
    return;
  }
  for (const auto& [key, v] : doc->items()) {
    if (key != "timeout") {
      send(res, error_reply(400, "invalid_request", "$." + key + ": unknown key"));
      return;
    }
  }
  const json* t = doc->contains("timeout") ? &doc->at("timeout") : nullptr;
  if (t == nullptr || !t->is_number() || !std::isfinite(t->get<double>()) || t->get<double>() < 0) {
    send(res, error_reply(400, "invalid_request", "$.timeout: expected a non-negative number"));
    return;
  }
  send(res, service_.set_timeout(req.matches[1], t->get<double>()));
}

void Routes::output(const Request& req, Response& res) {
  const std::string follow = req.get_param_value("follow");
  if (follow.empty() || follow == "0" || follow == "false") {
    send(res, service_.output(req.matches[1]));
    return;
  }
  const std::string id = req.matches[1];
  subscribe_and_serve(res, false,
                      [&](std::shared_ptr<SseChannel> c) { return service_.follow_output(id, c); });
}

void Routes::events(Response& res) {
  subscribe_and_serve(res, true,
                      [&](std::shared_ptr<SseChannel> c) { return service_.subscribe_events(c); });
}

void Routes::subscribe_and_serve(
    Response& res, bool batched,
    const std::function<Reply(std::shared_ptr<SseChannel>)>& subscribe) {
  if (!open_stream(res)) return;
  auto channel = std::make_shared<SseChannel>();
  Reply reply = subscribe(channel);
  if (reply.status != 200) {
    --open_streams_;
    send(res, reply);
    return;
  }
  serve_sse(res, std::move(channel), batched);
}

bool Routes::open_stream(Response& res) {
  if (streams_closed_ || open_streams_.fetch_add(1) >= options_.max_sse) {
    if (!streams_closed_) --open_streams_;
    send(res, error_reply(503, "unavailable", "too many open event streams"));
    return false;
  }
  return true;
}

void Routes::close_streams() {
  streams_closed_ = true;
}

void Routes::serve_sse(Response& res, std::shared_ptr<SseChannel> channel, bool batched) {
  auto state = std::make_shared<SseState>();
  state->channel = std::move(channel);
  state->batched = batched;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");  // nginx: pass events on as they come
  // cpp-httplib calls the provider again and again on this thread until it calls done() or
  // returns false; each call blocks for at most a slice, so a stopping server is noticed.
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, state](std::size_t, httplib::DataSink& sink) { return pump_sse(*state, sink); },
      [this, state](bool) {
        state->channel->abandon();
        --open_streams_;
      });
}

bool Routes::pump_sse(SseState& st, httplib::DataSink& sink) {
  using Clock = std::chrono::steady_clock;
  const auto write = [&sink](const std::string& text) {
    return sink.write(text.data(), text.size());
  };
  auto now = Clock::now();
  if (!st.greeted) {
    // Sent at once, so a client knows the subscription is in place.
    st.greeted = true;
    st.last_write = now;
    return write(": connected\n\n");
  }
  if (streams_closed_) {
    sink.done();
    return true;
  }
  if (st.batched && now < st.next_batch) {
    std::this_thread::sleep_until(std::min(st.next_batch, now + kSseSlice));
    return true;
  }
  SseChannel::Taken taken = st.channel->take(now + std::min(kSseSlice, options_.sse_keepalive));
  now = Clock::now();
  std::string out;
  if (taken.lost > 0) out += sse_frame("lost", {{"lost", taken.lost}});
  if (!taken.items.empty()) {
    if (st.batched) {
      out += "data: [";
      for (std::size_t i = 0; i < taken.items.size(); ++i) {
        if (i > 0) out += ',';
        out += taken.items[i];
      }
      out += "]\n\n";
      st.next_batch = now + options_.event_batch_interval;
    } else {
      for (const std::string& item : taken.items)
        out += item;
    }
  }
  if (out.empty() && now - st.last_write >= options_.sse_keepalive) out = ": keepalive\n\n";
  if (!out.empty()) {
    if (!write(out)) return false;
    st.last_write = now;
  }
  if (taken.closed) sink.done();
  return true;
}

void Routes::metrics(Response& res) {
  std::optional<std::string> text = service_.metrics();
  if (!text) {
    send(res, error_reply(503, "unavailable", "the loop did not answer"));
    return;
  }
  res.set_content(*text + http_metrics(), "text/plain; version=0.0.4");
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
