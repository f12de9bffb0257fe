#include "uasyncd/cli/connection.hpp"

#include <algorithm>
#include <exception>
#include <utility>

#include "uasyncd/cli/exit_codes.hpp"
#include "uasyncd/cli/safe_text.hpp"

namespace uasyncd::cli {
namespace {

// Far above any real answer (a full page of 1,000 tasks, a task of 10,000 steps, 1 MiB of
// output per exec step), yet a bound on what a hostile server can make the client hold.
constexpr std::size_t kMaxBodyBytes = std::size_t{256} << 20;
constexpr std::size_t kMaxErrorBodyBytes = 64 << 10;
constexpr std::size_t kShownErrorBytes = 200;

bool is_unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    if (is_unreserved(c)) {
      out += c;
    } else {
      const auto u = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    }
  }
  return out;
}

bool contains(std::initializer_list<int> statuses, int status) {
  return std::find(statuses.begin(), statuses.end(), status) != statuses.end();
}

std::unique_ptr<httplib::ClientImpl> make_client(const DaemonUrl& url) {
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
  if (url.scheme == "https") {
    auto client = std::make_unique<httplib::SSLClient>(url.host, url.port);
    // Verified against the system's CA store (SSL_CERT_FILE / SSL_CERT_DIR name another).
    client->enable_server_certificate_verification(true);
    return client;
  }
#endif
  return std::make_unique<httplib::ClientImpl>(url.host, url.port);
}

}  // namespace

std::string path_segment(std::string_view text) {
  return percent_encode(text);
}

std::string query_value(std::string_view text) {
  return percent_encode(text);
}

std::string daemon_error_message(int status, std::string_view body) {
  const nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_object() && doc.contains("error") && doc["error"].is_object()) {
    const nlohmann::json& error = doc["error"];
    if (error.contains("message") && error["message"].is_string()) {
      return printable(error["message"].get<std::string>());
    }
  }
  std::string out = "the daemon answered HTTP " + std::to_string(status);
  if (!body.empty()) {
    out += ": " + printable(body.substr(0, kShownErrorBytes));
    if (body.size() > kShownErrorBytes) out += "…";
  }
  return out;
}

Connection::Connection(DaemonUrl url, const std::string& token)
    : url_(std::move(url)), client_(make_client(url_)) {
  if (!client_->is_valid()) {
    throw CliError(kExitDaemon, "cannot set up a client for " + url_.text());
  }
  for (char c : token) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) throw CliError(kExitUsage, "the token has a control character");
  }
  client_->set_connection_timeout(5);
  client_->set_write_timeout(30);
  client_->set_keep_alive(true);
  client_->set_tcp_nodelay(true);
  client_->set_url_encode(false);  // targets are encoded by path_segment and query_value
  if (!token.empty()) client_->set_bearer_token_auth(token);
}

HttpReply Connection::get(const std::string& target, std::initializer_list<int> ok,
                          std::chrono::seconds read_timeout) {
  httplib::Request req;
  req.method = "GET";
  req.path = target;
  return request(std::move(req), ok, read_timeout);
}

HttpReply Connection::post(const std::string& target, const nlohmann::json* body,
                           std::initializer_list<int> ok, const httplib::Headers& headers) {
  return send_json("POST", target, body, ok, headers);
}

HttpReply Connection::put(const std::string& target, const nlohmann::json& body,
                          std::initializer_list<int> ok) {
  return send_json("PUT", target, &body, ok, {});
}

HttpReply Connection::send_json(const char* method, const std::string& target,
                                const nlohmann::json* body, std::initializer_list<int> ok,
                                const httplib::Headers& headers) {
  httplib::Request req;
  req.method = method;
  req.path = target;
  req.headers = headers;
  if (body != nullptr) {
    req.body = body->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    req.set_header("Content-Type", "application/json");
  }
  return request(std::move(req), ok, kReadTimeout);
}

HttpReply Connection::del(const std::string& target, std::initializer_list<int> ok) {
  httplib::Request req;
  req.method = "DELETE";
  req.path = target;
  return request(std::move(req), ok, kReadTimeout);
}

HttpReply Connection::request(httplib::Request req, std::initializer_list<int> ok,
                              std::chrono::seconds read_timeout) {
  client_->set_read_timeout(read_timeout);
  std::string body;
  bool too_large = false;
  req.set_header("Accept", "application/json");
  req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
    if (body.size() + n > kMaxBodyBytes) {
      too_large = true;
      return false;
    }
    body.append(data, n);
    return true;
  };
  const httplib::Result r = client_->send(req);
  if (too_large) {
    throw CliError(kExitDaemon, "the answer from " + url_.text() + " is larger than 256 MiB");
  }
  if (!r) fail(r.error());
  if (!contains(ok, r->status)) {
    std::string message = daemon_error_message(r->status, body);
    if (r->status == 401) message += " (set --token or UASYNCD_TOKEN)";
    throw DaemonError(r->status, message);
  }
  HttpReply reply{r->status, nullptr};
  if (!body.empty()) {
    reply.body = nlohmann::json::parse(body, nullptr, false);
    if (reply.body.is_discarded()) {
      throw CliError(kExitDaemon, "the answer from " + url_.text() +
                                      " is not JSON: is uasyncd listening there?");
    }
  }
  return reply;
}

bool Connection::stream(const std::string& target, const SseParser::Handler& on_event) {
  if (stopped_) return false;
  client_->set_read_timeout(kStreamReadTimeout);
  SseParser parser;
  int status = 0;
  std::string error_body;
  bool handler_stopped = false;
  std::exception_ptr thrown;  // kept from crossing cpp-httplib's frames, rethrown below
  httplib::Request req;
  req.method = "GET";
  req.path = target;
  req.set_header("Accept", "text/event-stream");
  req.response_handler = [&](const httplib::Response& res) {
    status = res.status;
    return true;
  };
  req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
    if (stopped_) return false;
    if (status != 200) {
      error_body.append(data, std::min(n, kMaxErrorBodyBytes - error_body.size()));
      return error_body.size() < kMaxErrorBodyBytes;
    }
    try {
      if (!parser.feed(std::string_view(data, n), on_event)) {
        handler_stopped = true;
        return false;
      }
    } catch (...) {
      thrown = std::current_exception();
      return false;
    }
    return true;
  };
  const httplib::Result r = client_->send(req);
  if (thrown) std::rethrow_exception(thrown);
  if (handler_stopped || stopped_) return false;
  if (status != 0 && status != 200) {
    std::string message = daemon_error_message(status, error_body);
    if (status == 401) message += " (set --token or UASYNCD_TOKEN)";
    throw DaemonError(status, message);
  }
  if (!r) fail(r.error());
  return true;
}

void Connection::stop() {
  stopped_ = true;
  client_->stop();
}

void Connection::fail(httplib::Error error) const {
  const std::string where = url_.text();
  switch (error) {
    case httplib::Error::Connection:
      throw CliError(kExitDaemon,
                     "cannot reach the daemon at " + where +
                         " (connection refused, or the host is unknown or unreachable): is "
                         "it running? "
                         "Give its address with --url or UASYNCD_URL");
    case httplib::Error::ConnectionTimeout:
      throw CliError(kExitDaemon,
                     "cannot reach the daemon at " + where + ": the connection timed out");
    case httplib::Error::Read:
      throw CliError(kExitDaemon, "no complete answer from the daemon at " + where +
                                      " (it closed the connection or did not answer in time)");
    case httplib::Error::Write:
      throw CliError(kExitDaemon, "could not send the request to the daemon at " + where);
    case httplib::Error::SSLConnection:
      throw CliError(kExitDaemon, "the TLS handshake with " + where + " failed");
    case httplib::Error::SSLLoadingCerts:
      throw CliError(kExitDaemon, "could not load the CA certificates to check " + where);
    case httplib::Error::SSLServerVerification:
      throw CliError(kExitDaemon, "the TLS certificate of " + where +
                                      " could not be verified (SSL_CERT_FILE names a CA "
                                      "bundle to trust)");
    default:
      throw CliError(kExitDaemon,
                     "the request to " + where + " failed (" + httplib::to_string(error) + ")");
  }
}

}  // namespace uasyncd::cli
