// The client's one way to talk to the daemon: cpp-httplib's client, JSON in and out, every
// failure turned into a CliError with a message a person can act on (never a stack trace).
#pragma once

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "uasyncd/cli/daemon_url.hpp"
#include "uasyncd/cli/sse_parser.hpp"

namespace uasyncd::cli {

struct HttpReply {
  int status = 0;
  nlohmann::json body;
};

// One connection (kept alive between requests) to the daemon. Use it from one thread at a time;
// stop() alone may be called from any thread, to end a stream() in progress.
class Connection {
 public:
  // `token`: sent as "Authorization: Bearer <token>" when not empty.
  Connection(DaemonUrl url, const std::string& token);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const DaemonUrl& url() const { return url_; }

  // A JSON request. A status outside `ok` throws DaemonError with the daemon's message; no
  // answer at all throws CliError(kExitDaemon) saying why. `target` is a path with its query,
  // already encoded (see path_segment, query_value).
  HttpReply get(const std::string& target, std::initializer_list<int> ok = {200},
                std::chrono::seconds read_timeout = kReadTimeout);
  HttpReply post(const std::string& target, const nlohmann::json* body,
                 std::initializer_list<int> ok, const httplib::Headers& headers = {});
  HttpReply put(const std::string& target, const nlohmann::json& body,
                std::initializer_list<int> ok = {200});
  HttpReply del(const std::string& target, std::initializer_list<int> ok = {200});

  // Reads a Server-Sent Events stream, calling `on_event` for each event (and comment) until
  // the daemon ends the stream (returns true), `on_event` returns false or stop() is called
  // (returns false). A refusal (non-200) throws DaemonError; a broken stream CliError.
  bool stream(const std::string& target, const SseParser::Handler& on_event);

  // Ends a stream() in progress on another thread (its socket is shut down), or the next one.
  void stop();

  static constexpr std::chrono::seconds kReadTimeout{30};
  // The daemon writes a keepalive comment to a quiet stream every 15 s: three missed ones mean
  // it is gone.
  static constexpr std::chrono::seconds kStreamReadTimeout{45};

 private:
  // `method` with `body` (when not null) as JSON.
  HttpReply send_json(const char* method, const std::string& target, const nlohmann::json* body,
                      std::initializer_list<int> ok, const httplib::Headers& headers);
  HttpReply request(httplib::Request req, std::initializer_list<int> ok,
                    std::chrono::seconds read_timeout);
  [[noreturn]] void fail(httplib::Error error) const;

  DaemonUrl url_;
  std::unique_ptr<httplib::ClientImpl> client_;  // an SSLClient for https
  std::atomic<bool> stopped_{false};
};

// `text` percent-encoded for one path segment (a task id is user input: "../stats" must stay
// one segment).
std::string path_segment(std::string_view text);
// `text` percent-encoded for a query parameter's value.
std::string query_value(std::string_view text);

// The message of a daemon's error answer: its JSON {"error": {"message"}} when it has one, else
// the status and the start of the body, with control characters removed.
std::string daemon_error_message(int status, std::string_view body);

}  // namespace uasyncd::cli
