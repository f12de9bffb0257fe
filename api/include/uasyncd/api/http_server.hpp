// The HTTP server of the daemon: cpp-httplib's parser, routing and handlers behind a transport
// of our own that holds before any handler runs.
//
// - A connection occupies a worker thread only while a complete request is served (and for
//   keep_alive_wait after it, for the next one). Until its head has arrived, between keep-alive
//   requests, while its response drains to a slow reader, and while a deferred request waits,
//   it is held by the connection gate (one epoll thread).
// - Request heads are capped (max_head_bytes, 431) and must arrive in full within head_timeout
//   (408); idle keep-alive connections close after idle_timeout.
// - Bodies: Content-Length over the limit (the route's own, see Post) is refused (413) before a
// byte is read, a chunked body
//   at the first byte past it; a compressed body (Content-Encoding other than identity) is
//   refused (415) rather than inflated; Content-Length with Transfer-Encoding, two
//   Content-Lengths, or a malformed one are refused (400), a transfer coding other than chunked
//   too (501); a body for a route that takes none is refused unread (404 or 405); the body must
//   arrive within body_timeout (408). After a refusal with a body left unread the connection
//   closes (after a short linger, so that the client reads the refusal).
// - `Range` headers are removed from every request: no response is partial or multi-range.
// - A path with control characters (as decoded) is refused (400).
// - Long-polls use defer(): no thread waits for their answer.
// - Streaming responses (content providers: SSE) hold their worker while they stream, as with
//   plain cpp-httplib; the pool is sized for them by the caller.
//
// Thread rules: configure (handlers, set_access_log, the cpp-httplib setters) before start();
// start() and stop() from one controlling thread; handlers run on worker threads; defer() only
// from inside a handler. Lifetime: stop() (or the destructor) ends every thread; deferred handles
// may outlive the server.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "uasyncd/api/connection_gate.hpp"
#include "uasyncd/api/connection_stream.hpp"
#include "uasyncd/api/deferred_response.hpp"

namespace uasyncd::api {

struct HttpServerOptions {
  std::size_t worker_threads = 16;
  std::size_t max_head_bytes = 64 * 1024;
  std::uint64_t max_body_bytes = 1 << 20;
  std::chrono::milliseconds head_timeout{10000};
  std::chrono::milliseconds idle_timeout{5000};
  std::chrono::milliseconds body_timeout{30000};
  std::chrono::milliseconds write_timeout{10000};  // without progress: a reader that stalls
  std::chrono::milliseconds linger_timeout{2000};  // reading and dropping after a refusal
  // A parked request told that its time is up gets this long to be answered, then is dropped.
  std::chrono::milliseconds answer_grace{5000};
  std::size_t max_deferred = 1024;  // requests waiting in defer() at once; defer() fails past it
  std::size_t max_connections = 4096;
  std::size_t max_requests_per_connection = 100;
  // After a response, the worker waits this long for the same client's next request before
  // handing the connection to the gate: a busy client's next request usually comes within a
  // moment, and serving it at once saves two thread hand-offs. 0: hand it over at once.
  std::chrono::milliseconds keep_alive_wait{2};
};

class HttpServer : public httplib::Server {
 public:
  using AccessLog = DeferredResponse::AccessLog;
  struct Stats {
    std::uint64_t accepted = 0;
    std::uint64_t open_connections = 0;
    std::uint64_t deferred = 0;         // requests waiting in defer()
    std::uint64_t bytes_received = 0;   // by the gate and the workers, all sockets together
    std::uint64_t body_bytes_read = 0;  // request body bytes handed to cpp-httplib
  };

  explicit HttpServer(HttpServerOptions options = {});
  ~HttpServer() override;

  // Binds host:port (port 0: a free one), then serves; returns the port. Throws
  // std::runtime_error if the address cannot be bound. Once.
  int start(const std::string& host, int port);
  // No new connections; idle and incomplete ones close at once; parked requests are told that
  // their time is up; requests in flight get until `grace` has passed to finish; then every
  // connection closes and every thread ends. Later calls do nothing.
  void stop(std::chrono::milliseconds grace);

  // Told about every response: cpp-httplib's, the transport's refusals and deferred answers
  // (on the thread that completes them). The fields are the client's: escape them to log them.
  void set_access_log(AccessLog log) { access_log_ = std::move(log); }

  // From inside a handler: the response is to be given later, from any thread, through the
  // returned handle; the handler's own Response is ignored. Null (answer 503) when
  // max_deferred requests already wait, or outside an HttpServer handler.
  static std::shared_ptr<DeferredResponse> defer(const httplib::Request& req,
                                                 DeferredResponse::Options options);

  Stats stats() const;

  // As cpp-httplib's, and remembered, so that a body for a route that has none is refused
  // before it is read. Register through HttpServer, not through an httplib::Server reference:
  // a POST route the transport does not know of gets its bodies refused (404).
  HttpServer& Get(const std::string& pattern, Handler handler);
  // `max_body` (0: max_body_bytes): this route's body limit, larger or smaller.
  HttpServer& Post(const std::string& pattern, Handler handler, std::uint64_t max_body = 0);
  HttpServer& Put(const std::string& pattern, Handler handler);
  HttpServer& Patch(const std::string& pattern, Handler handler);
  HttpServer& Delete(const std::string& pattern, Handler handler);
  HttpServer& Options(const std::string& pattern, Handler handler);
  HttpServer& set_post_routing_handler(Handler handler);

 private:
  // cpp-httplib's own listening, logging and limits are replaced by the ones above.
  using httplib::Server::bind_to_any_port;
  using httplib::Server::bind_to_port;
  using httplib::Server::is_running;
  using httplib::Server::listen;
  using httplib::Server::listen_after_bind;
  using httplib::Server::new_task_queue;
  using httplib::Server::set_keep_alive_max_count;
  using httplib::Server::set_keep_alive_timeout;
  using httplib::Server::set_logger;
  using httplib::Server::set_payload_max_length;
  using httplib::Server::set_read_timeout;

  struct Exchange;
  void serve(std::shared_ptr<Connection> conn);
  // Runs one request whose head is in conn.in; returns what becomes of the connection, or
  // nullopt if a deferred request parked it in the gate.
  std::optional<Connection::Then> serve_one(const std::shared_ptr<Connection>& conn);
  // cpp-httplib's setup_request: checks the parsed head; throws TransportRefusal.
  void check_request(httplib::Request& req, Exchange& ex);
  [[noreturn]] void refuse(const httplib::Request& req, Exchange& ex, int status, const char* code,
                           std::string message);
  bool route_takes_body(const httplib::Request& req, bool& other_method_matches) const;
  // The body limit of the route `req` names (max_body_bytes unless the route has its own).
  std::uint64_t body_limit(const httplib::Request& req) const;
  void log(const httplib::Request& req, const httplib::Response& res,
           std::chrono::steady_clock::time_point started) const;
  void log_gate_refusal(int status, std::string_view head) const;
  ConnectionPolicy policy(bool close) const;

  HttpServerOptions options_;
  AccessLog access_log_;
  Handler user_post_routing_;
  struct RouteEntry {
    std::string method;
    std::regex pattern;
    std::uint64_t max_body = 0;  // 0: options_.max_body_bytes
  };
  std::vector<RouteEntry> routes_;
  std::shared_ptr<ConnectionGate> gate_;
  std::unique_ptr<httplib::ThreadPool> pool_;
  std::shared_ptr<std::atomic<std::size_t>> deferred_ =
      std::make_shared<std::atomic<std::size_t>>(0);
  ConnectionStream::Counters counters_;
  static thread_local Exchange* current_;  // the request this worker thread is serving
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace uasyncd::api
