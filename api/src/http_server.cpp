#include "uasyncd/api/http_server.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "uasyncd/api/request_head.hpp"
#include "uasyncd/api/response_bytes.hpp"

namespace uasyncd::api {

struct HttpServer::Exchange {
  Exchange(HttpServer* s, Connection* c, ConnectionStream* st) : server(s), conn(c), stream(st) {}
  HttpServer* server;
  Connection* conn;
  ConnectionStream* stream;
  bool close_connection = false;   // decided before the request: stopping, or its last one
  bool closed_by_request = false;  // set by cpp-httplib: "Connection: close", or HTTP/1.0
  bool logged = false;
  std::shared_ptr<DeferredResponse> deferred;
  std::optional<TransportRefusal> refusal;
  httplib::Request refused;  // the refused request, for the access log
};

thread_local HttpServer::Exchange* HttpServer::current_ = nullptr;

namespace {

// What the access log and a deferred answer need of a request, without its headers and body.
httplib::Request summary(const httplib::Request& req) {
  httplib::Request r;
  r.method = req.method;
  r.path = req.path;
  r.target = req.target;
  r.version = req.version;
  r.remote_addr = req.remote_addr;
  r.remote_port = req.remote_port;
  return r;
}

httplib::Response error_response(const TransportRefusal& r) {
  httplib::Response res;
  res.status = r.status;
  res.body = r.message;
  return res;
}

// The methods cpp-httplib reads a body for (its detail::expect_content).
bool reads_body(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "PRI" ||
         method == "DELETE";
}

void address_of(const sockaddr_storage& addr, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(addr);
    inet_ntop(AF_INET, &a.sin_addr, text, sizeof(text));
    port = ntohs(a.sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(addr);
    inet_ntop(AF_INET6, &a.sin6_addr, text, sizeof(text));
    port = ntohs(a.sin6_port);
  }
  ip = text;
}

void fill_addresses(Connection& conn) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getpeername(conn.fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    address_of(addr, conn.remote_ip, conn.remote_port);
  }
  len = sizeof(addr);
  if (getsockname(conn.fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    address_of(addr, conn.local_ip, conn.local_port);
  }
}

int bind_and_listen(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const int rc =
      getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0) {
    throw std::runtime_error("cannot listen on " + host + ":" + service + ": " + gai_strerror(rc));
  }
  int error = 0;
  int fd = -1;
  for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      error = errno;
      continue;
    }
    const int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || ::listen(fd, SOMAXCONN) < 0) {
      error = errno;
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) {
    throw std::runtime_error("cannot listen on " + host + ":" + service + ": " +
                             std::strerror(error));
  }
  return fd;
}

int local_port(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return -1;
  std::string ip;
  int port = -1;
  address_of(addr, ip, port);
  return port;
}

}  // namespace

HttpServer::HttpServer(HttpServerOptions options) : options_(options) {
  // cpp-httplib announces these in its Keep-Alive header and checks Content-Length against the
  // payload limit; the transport enforces all three.
  keep_alive_timeout_sec_ =
      static_cast<time_t>(std::chrono::ceil<std::chrono::seconds>(options_.idle_timeout).count());
  keep_alive_max_count_ = options_.max_requests_per_connection;
  payload_max_length_ = options_.max_body_bytes;
  httplib::Server::set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    Exchange* ex = current_;
    if (ex == nullptr || ex->deferred) return;  // a deferred request is logged when answered
    ex->logged = true;
    if (const std::optional<TransportRefusal>& refusal = ex->stream->refusal()) {
      log(req, error_response(*refusal), ex->conn->head_at);
    } else {
      log(req, res, ex->conn->head_at);
    }
  });
  httplib::Server::set_post_routing_handler(
      [this](const httplib::Request& req, httplib::Response& res) {
        if (Exchange* ex = current_; ex != nullptr && res.content_provider_) {
          ex->stream->stream_output();
        }
        if (user_post_routing_) user_post_routing_(req, res);
      });
}

HttpServer::~HttpServer() {
  stop(std::chrono::milliseconds(0));
}

int HttpServer::start(const std::string& host, int port) {
  if (started_) throw std::logic_error("HttpServer::start called twice");
  const int fd = bind_and_listen(host, port);
  const int bound = local_port(fd);
  ConnectionGate::Limits limits;
  limits.max_head_bytes = options_.max_head_bytes;
  limits.head_timeout = options_.head_timeout;
  limits.idle_timeout = options_.idle_timeout;
  limits.write_timeout = options_.write_timeout;
  limits.linger_timeout = options_.linger_timeout;
  limits.answer_grace = options_.answer_grace;
  limits.max_connections = options_.max_connections;
  ConnectionGate::Hooks hooks;
  hooks.dispatch = [this](std::shared_ptr<Connection> conn) {
    pool_->enqueue([this, conn = std::move(conn)]() mutable { serve(std::move(conn)); });
  };
  hooks.refused = [this](int status, std::string_view head) { log_gate_refusal(status, head); };
  pool_ = std::make_unique<httplib::ThreadPool>(options_.worker_threads);
  gate_ = std::make_shared<ConnectionGate>(fd, limits, std::move(hooks));
  // cpp-httplib ends a streaming response between chunks once this is invalid (see stop()).
  svr_sock_ = fd;
  gate_->start();
  started_ = true;
  return bound;
}

void HttpServer::stop(std::chrono::milliseconds grace) {
  if (!started_ || stopped_) return;
  stopped_ = true;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  stopping_ = true;
  svr_sock_ = INVALID_SOCKET;
  gate_->stop_accepting();
  gate_->wait_drained(deadline);
  gate_->close_all();
  pool_->shutdown();
  gate_->join();
}

HttpServer::Stats HttpServer::stats() const {
  Stats s;
  if (gate_) {
    s.accepted = gate_->stats().accepted;
    s.open_connections = gate_->stats().open;
    s.bytes_received = gate_->stats().bytes_received;
  }
  s.deferred = deferred_->load();
  s.bytes_received += counters_.bytes_received;
  s.body_bytes_read = counters_.body_bytes;
  return s;
}

ConnectionPolicy HttpServer::policy(bool close) const {
  ConnectionPolicy p;
  p.close = close;
  p.idle_timeout = std::chrono::seconds(keep_alive_timeout_sec_);
  p.max_requests = options_.max_requests_per_connection;
  return p;
}

std::shared_ptr<DeferredResponse> HttpServer::defer(const httplib::Request& req,
                                                    DeferredResponse::Options options) {
  Exchange* ex = current_;
  if (ex == nullptr || ex->deferred) return nullptr;
  HttpServer& self = *ex->server;
  if (self.deferred_->fetch_add(1) >= self.options_.max_deferred) {
    self.deferred_->fetch_sub(1);
    return nullptr;
  }
  DeferredResponse::Setup setup{self.gate_,
                                summary(req),
                                self.policy(ex->close_connection || ex->closed_by_request),
                                req.method == "HEAD",
                                ex->conn->head_at,
                                self.access_log_,
                                self.deferred_};
  ex->deferred = std::make_shared<DeferredResponse>(std::move(setup), std::move(options));
  ex->stream->drop_output();
  return ex->deferred;
}

void HttpServer::serve(std::shared_ptr<Connection> conn) {
  if (conn->remote_port < 0) fill_addresses(*conn);
  for (;;) {
    const std::optional<Connection::Then> then = serve_one(conn);
    if (!then) return;  // parked in the gate by a deferred request
    if (*then == Connection::Then::keep_alive && conn->out.empty() && !stopping_) {
      // A pipelined request already here is served at once, and so is one that comes within
      // keep_alive_wait.
      std::optional<std::size_t> head = conn->find_head();
      if (!head && conn->unread().empty() && options_.keep_alive_wait.count() > 0) {
        pollfd p{conn->fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(options_.keep_alive_wait.count())) > 0) {
          if (const ssize_t n = conn->receive(); n > 0) {
            counters_.bytes_received += static_cast<std::uint64_t>(n);
            head = conn->find_head();
          }
        }
      }
      if (head && *head <= options_.max_head_bytes) {
        conn->head_size = *head;
        conn->head_at = std::chrono::steady_clock::now();
        continue;
      }
    }
    gate_->hand_back(std::move(conn), *then);
    return;
  }
}

std::optional<Connection::Then> HttpServer::serve_one(const std::shared_ptr<Connection>& conn) {
  // The header is gone before cpp-httplib parses it: no response is partial, none multi-range.
  conn->head_size = remove_header_lines(conn->in, conn->in_pos, conn->head_size, "Range");
  const ConnectionStream::Limits limits{options_.max_body_bytes, options_.body_timeout,
                                        options_.write_timeout};
  ConnectionStream stream(*conn, limits, counters_);
  Exchange ex(this, conn.get(), &stream);
  ex.close_connection = stopping_ || conn->requests + 1 >= options_.max_requests_per_connection;
  current_ = &ex;
  bool ok = false;
  try {
    ok = process_request(stream, ex.close_connection, ex.closed_by_request,
                         [this, &ex](httplib::Request& req) { check_request(req, ex); });
  } catch (const TransportRefusal& refusal) {
    ex.refusal = refusal;
  } catch (const std::exception& e) {
    // From the checks of the head, outside cpp-httplib's own handler guard (a regex, memory):
    // answered, and the worker thread lives on.
    ex.refusal = TransportRefusal{500, "internal", e.what()};
  }
  current_ = nullptr;
  ++conn->requests;
  const bool body_complete = stream.body_complete();
  if (!ex.refusal && stream.refusal()) ex.refusal = stream.refusal();
  conn->next_request();

  if (ex.refusal) {
    if (!ex.logged) log(ex.refused, error_response(*ex.refusal), conn->head_at);
    conn->out += error_response_bytes(ex.refusal->status, ex.refusal->code, ex.refusal->message);
    stream.flush_without_blocking();
    return body_complete ? Connection::Then::close : Connection::Then::linger;
  }
  if (ex.deferred) {
    if (!body_complete) {
      if (std::function<void()> on_gone = ex.deferred->abandon()) on_gone();
      return Connection::Then::linger;
    }
    bool gone = false;
    std::optional<std::string> answer = ex.deferred->park(conn, gone);
    if (!answer && !gone) return std::nullopt;  // the gate has the connection now
    if (gone) return Connection::Then::close;
    conn->out += *answer;  // answered while its handler still ran
    stream.flush_without_blocking();
    if (stream.write_failed()) return Connection::Then::close;
    return ex.deferred->closes_connection() ? Connection::Then::close
                                            : Connection::Then::keep_alive;
  }
  stream.flush_without_blocking();
  if (stream.write_failed()) return Connection::Then::close;
  if (!body_complete) return Connection::Then::linger;
  if (!ok || ex.close_connection || ex.closed_by_request) return Connection::Then::close;
  return Connection::Then::keep_alive;
}

void HttpServer::refuse(const httplib::Request& req, Exchange& ex, int status, const char* code,
                        std::string message) {
  ex.refused = summary(req);
  throw TransportRefusal{status, code, std::move(message)};
}

void HttpServer::check_request(httplib::Request& req, Exchange& ex) {
  req.ranges.clear();  // the header was removed from the bytes; this is cpp-httplib's copy
  req.headers.erase("Range");
  for (const char c : req.path) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      refuse(req, ex, 400, "invalid_request", "the request path contains control characters");
    }
  }
  const std::size_t codings = req.get_header_value_count("Transfer-Encoding");
  const std::size_t lengths = req.get_header_value_count("Content-Length");
  // Framing that two parsers could read two ways is how requests are smuggled (RFC 9112 6.3).
  if (codings > 0 && lengths > 0) {
    refuse(req, ex, 400, "invalid_request",
           "Content-Length and Transfer-Encoding together are not accepted");
  }
  if (lengths > 1) refuse(req, ex, 400, "invalid_request", "more than one Content-Length");
  ConnectionStream::Framing framing = ConnectionStream::Framing::none;
  std::uint64_t length = 0;
  const std::uint64_t limit = body_limit(req);
  if (codings > 0) {
    if (req.version == "HTTP/1.0") {
      refuse(req, ex, 400, "invalid_request", "Transfer-Encoding is not HTTP/1.0");
    }
    if (codings > 1 ||
        !equals_ignoring_case(req.get_header_value("Transfer-Encoding"), "chunked")) {
      refuse(req, ex, 501, "not_implemented", "only the chunked transfer coding is accepted");
    }
    framing = ConnectionStream::Framing::chunked;
  } else if (lengths == 1) {
    const std::string text = req.get_header_value("Content-Length");
    if (text.empty() || text.size() > 19 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      refuse(req, ex, 400, "invalid_request", "Content-Length must be a decimal number");
    }
    length = std::stoull(text);
    if (length > limit) {
      refuse(req, ex, 413, "payload_too_large",
             "the request body exceeds " + std::to_string(limit) + " bytes");
    }
    if (length > 0) framing = ConnectionStream::Framing::length;
  }
  if (framing != ConnectionStream::Framing::none) {
    // cpp-httplib would inflate it before any size check: refused, never inflated.
    for (std::size_t i = 0; i < req.get_header_value_count("Content-Encoding"); ++i) {
      const std::string coding = req.get_header_value("Content-Encoding", i);
      if (!coding.empty() && !equals_ignoring_case(coding, "identity")) {
        refuse(req, ex, 415, "unsupported_media_type",
               "compressed request bodies are not accepted");
      }
    }
    bool other_method = false;
    if (reads_body(req.method) && !route_takes_body(req, other_method)) {
      if (other_method) {
        refuse(req, ex, 405, "method_not_allowed", req.method + " is not allowed on " + req.path);
      }
      refuse(req, ex, 404, "not_found", "no route " + req.method + " " + req.path);
    }
  }
  ex.stream->begin_body(framing, length, limit);
}

bool HttpServer::route_takes_body(const httplib::Request& req, bool& other_method) const {
  for (const RouteEntry& r : routes_) {
    if (!std::regex_match(req.path, r.pattern)) continue;
    if (r.method == req.method) return true;
    other_method = true;
  }
  return false;
}

std::uint64_t HttpServer::body_limit(const httplib::Request& req) const {
  for (const RouteEntry& r : routes_) {
    if (r.max_body != 0 && r.method == req.method && std::regex_match(req.path, r.pattern)) {
      return r.max_body;
    }
  }
  return options_.max_body_bytes;
}

void HttpServer::log(const httplib::Request& req, const httplib::Response& res,
                     std::chrono::steady_clock::time_point started) const {
  if (!access_log_) return;
  access_log_(req, res,
              std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - started));
}

void HttpServer::log_gate_refusal(int status, std::string_view head) const {
  if (!access_log_) return;
  httplib::Request req;
  const std::string_view line = head.substr(0, head.find('\n'));
  const std::size_t sp = line.find(' ');
  req.method = std::string(line.substr(0, sp));
  if (sp != std::string_view::npos) {
    const std::string_view rest = line.substr(sp + 1);
    req.target = std::string(rest.substr(0, rest.find(' ')));
    req.path = req.target;
  }
  httplib::Response res;
  res.status = status;
  access_log_(req, res, std::chrono::microseconds(0));
}

HttpServer& HttpServer::Get(const std::string& pattern, Handler handler) {
  routes_.push_back({"GET", std::regex(pattern), 0});
  httplib::Server::Get(pattern, std::move(handler));
  return *this;
}

HttpServer& HttpServer::Post(const std::string& pattern, Handler handler, std::uint64_t max_body) {
  routes_.push_back({"POST", std::regex(pattern), max_body});
  // cpp-httplib's own check takes the largest; the transport applies each route's.
  payload_max_length_ = std::max<std::uint64_t>(payload_max_length_, max_body);
  httplib::Server::Post(pattern, std::move(handler));
  return *this;
}

HttpServer& HttpServer::Put(const std::string& pattern, Handler handler) {
  routes_.push_back({"PUT", std::regex(pattern), 0});
  httplib::Server::Put(pattern, std::move(handler));
  return *this;
}

HttpServer& HttpServer::Patch(const std::string& pattern, Handler handler) {
  routes_.push_back({"PATCH", std::regex(pattern), 0});
  httplib::Server::Patch(pattern, std::move(handler));
  return *this;
}

HttpServer& HttpServer::Delete(const std::string& pattern, Handler handler) {
  routes_.push_back({"DELETE", std::regex(pattern), 0});
  httplib::Server::Delete(pattern, std::move(handler));
  return *this;
}

HttpServer& HttpServer::Options(const std::string& pattern, Handler handler) {
  routes_.push_back({"OPTIONS", std::regex(pattern), 0});
  httplib::Server::Options(pattern, std::move(handler));
  return *this;
}

HttpServer& HttpServer::set_post_routing_handler(Handler handler) {
  user_post_routing_ = std::move(handler);
  return *this;
}

}  // namespace uasyncd::api
