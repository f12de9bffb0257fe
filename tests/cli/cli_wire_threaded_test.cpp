// What the client puts on the wire, and how it copes with what comes back, checked against a
// stand-in HTTP server of the test's own: the headers a future daemon will read (Idempotency-Key)
// that today's ignores, ids encoded as one path segment, answers a hostile or broken server may
// send, and https through cpp-httplib's TLS client.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client_process.hpp"
#include "temp_dir.hpp"

// libcpp-httplib is prebuilt and uninstrumented: ThreadSanitizer cannot see its own
// synchronisation. Only races inside it are silenced.
extern "C" const char* __tsan_default_suppressions() {
  return "race:libcpp-httplib.so\n";
}

namespace {

using json = nlohmann::json;

struct Seen {
  std::string method;
  std::string target;  // as sent, still percent-encoded
  httplib::Headers headers;
  std::string body;
};

// A server on an ephemeral loopback port, serving what the test installs, recording requests.
class StandIn {
 public:
  explicit StandIn(std::unique_ptr<httplib::Server> server = std::make_unique<httplib::Server>())
      : server_(std::move(server)) {
    server_->set_logger([this](const httplib::Request& req, const httplib::Response&) {
      std::lock_guard lock(mu_);
      seen_.push_back({req.method, req.target, req.headers, req.body});
    });
  }
  ~StandIn() {
    server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  httplib::Server& routes() { return *server_; }
  std::string start(const std::string& scheme = "http") {
    port_ = server_->bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    // Connections queue in the listen backlog until the thread accepts them: no wait needed.
    return scheme + "://127.0.0.1:" + std::to_string(port_);
  }
  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<Seen> seen_;
};

void answer(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

ClientResult client(const std::string& url, std::vector<std::string> args,
                    const std::string& stdin_text = "", std::vector<std::string> env = {}) {
  ClientProcess::Options options;
  options.env = std::move(env);
  options.env.push_back("UASYNCD_URL=" + url);
  options.stdin_text = stdin_text;
  return run_client(std::move(args), options);
}

TEST(CliWire, SubmitSendsTheIdempotencyKeyTheTokenAndTheSpecWithItsFlags) {
  StandIn server;
  server.routes().Post("/api/tasks", [](const httplib::Request&, httplib::Response& res) {
    answer(res, 201, {{"id", "t1"}, {"state", "pending"}});
  });
  const std::string url = server.start();
  const ClientResult r = client(url,
                                {"submit", "-o", "table", "--idempotency-key", "build-42",
                                 "--token", "tok", "--name", "nightly", "--retries", "3", "-"},
                                R"({"sleep": 1})");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "t1\n");
  const std::vector<Seen> seen = server.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/api/tasks");
  const auto header = [&](const char* name) {
    const auto it = seen[0].headers.find(name);
    return it == seen[0].headers.end() ? std::string("(none)") : it->second;
  };
  EXPECT_EQ(header("Idempotency-Key"), "build-42");
  EXPECT_EQ(header("Authorization"), "Bearer tok");
  EXPECT_EQ(header("Content-Type"), "application/json");
  EXPECT_EQ(json::parse(seen[0].body), json({{"sleep", 1}, {"name", "nightly"}, {"retries", 3}}));

  // Without the flag, no header at all.
  client(url, {"submit", "-"}, R"({"sleep": 1})");
  EXPECT_EQ(server.seen().at(1).headers.count("Idempotency-Key"), 0u);
}

TEST(CliWire, ARepeatedKeyAnswered200WithTheFirstTaskIsASuccess) {
  // How the daemon will answer a key it has seen: 200 and the task the first submit made.
  StandIn server;
  server.routes().Post("/api/tasks", [](const httplib::Request& req, httplib::Response& res) {
    const bool repeated = req.get_header_value("Idempotency-Key") == "seen-before";
    answer(res, repeated ? 200 : 201, {{"id", repeated ? "t7" : "t8"}, {"state", "done"}});
  });
  const std::string url = server.start();
  const ClientResult r =
      client(url, {"submit", "-q", "--idempotency-key", "seen-before"}, R"({"value": 1})");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "t7\n");
}

TEST(CliWire, AnIdIsOnePathSegmentWhateverItHolds) {
  StandIn server;
  server.routes().Get(".*", [](const httplib::Request&, httplib::Response& res) {
    answer(res, 404, {{"error", {{"code", "not_found"}, {"message", "no such task"}}}});
  });
  const std::string url = server.start();
  const ClientResult r = client(url, {"show", "../stats?x=1 #"});
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.err, "uasyncd: no such task\n");
  ASSERT_EQ(server.seen().size(), 1u);
  EXPECT_EQ(server.seen()[0].target, "/api/tasks/..%2Fstats%3Fx%3D1%20%23");
  client(url, {"ls", "--name", "a&state=done", "--state", "running"});
  EXPECT_EQ(server.seen().at(1).target, "/api/tasks?limit=100&state=running&name=a%26state%3Ddone");
}

TEST(CliWire, WhatAHostileServerSendsNeverReachesTheTerminalAsEscapes) {
  StandIn server;
  server.routes().Get("/api/tasks", [](const httplib::Request&, httplib::Response& res) {
    answer(res, 200,
           {{"tasks", json::array({{{"id", "t1\x1b[2J"},
                                    {"name", "\x1b]0;owned\x07name"},
                                    {"kind", 42},
                                    {"state", "done\x1b[8m"},
                                    {"started", "yesterday"},
                                    {"duration", -1}}})},
            {"next_cursor", nullptr}});
  });
  server.routes().Get("/api/stats", [](const httplib::Request&, httplib::Response& res) {
    res.status = 502;
    res.set_content("<html>\x1b[31mbad gateway</html>", "text/html");
  });
  server.routes().Get("/api/tasks/t1", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("this is not JSON", "text/plain");
  });
  const std::string url = server.start();
  const ClientResult table = client(url, {"ls", "-o", "table"});
  EXPECT_EQ(table.code, 0) << table.err;
  EXPECT_EQ(table.out.find('\x1b'), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("t1?[2J  ?]0;owned?name"), std::string::npos) << table.out;

  const ClientResult gateway = client(url, {"stats"});
  EXPECT_EQ(gateway.code, 3);
  EXPECT_EQ(gateway.err, "uasyncd: the daemon answered HTTP 502: <html>?[31mbad gateway</html>\n");

  const ClientResult not_json = client(url, {"show", "t1"});
  EXPECT_EQ(not_json.code, 3);
  EXPECT_EQ(not_json.err,
            "uasyncd: the answer from " + url + " is not JSON: is uasyncd listening there?\n");
}

TEST(CliWire, APageCursorThatDoesNotMoveEndsTheListing) {
  StandIn server;
  server.routes().Get("/api/tasks", [](const httplib::Request&, httplib::Response& res) {
    answer(res, 200, {{"tasks", json::array({{{"id", "t5"}}})}, {"next_cursor", "t5"}});
  });
  const std::string url = server.start();
  const ClientResult r = client(url, {"ls", "--all", "-q"});
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(r.err, "uasyncd: the daemon gave the same page cursor twice\n");
  EXPECT_EQ(server.seen().size(), 2u);
}

TEST(CliWire, ScheduleAddSendsOnlyWhatItsFlagsSay) {
  StandIn server;
  server.routes().Post("/api/schedules", [](const httplib::Request& req, httplib::Response& res) {
    json record = json::parse(req.body);
    record["next_fires"] = json::array();
    answer(res, 201, record);
  });
  const std::string url = server.start();
  const ClientResult cron =
      client(url,
             {"schedule", "add", "nightly", "--cron", "0 3 * * *", "--timezone", "Europe/Berlin",
              "--overlap", "allow", "--catch-up", "one", "--paused", "--token", "tok", "-"},
             R"({"exec": ["make"]})");
  ASSERT_EQ(cron.code, 0) << cron.err;
  const ClientResult every = client(url, {"schedule", "add", "tick", "--every", "0.5"}, "[{}]");
  ASSERT_EQ(every.code, 0) << every.err;
  const std::vector<Seen> seen = server.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].headers.find("Authorization")->second, "Bearer tok");
  EXPECT_EQ(json::parse(seen[0].body), json::parse(R"({"name": "nightly", "cron": "0 3 * * *",
    "timezone": "Europe/Berlin", "overlap": "allow", "catch_up": "one", "paused": true,
    "spec": {"exec": ["make"]}})"));
  EXPECT_EQ(json::parse(seen[1].body),
            json::parse(R"({"name": "tick", "every": 0.5, "spec": {}})"));
}

TEST(CliWire, ScheduleAndQueueCommandsUseTheirPathsAndMethods) {
  StandIn server;
  const auto record = [](const httplib::Request& req, httplib::Response& res) {
    answer(res, req.path.ends_with("/trigger") ? 201 : 200, {{"name", "n"}, {"id", "t9"}});
  };
  server.routes().Get(".*", record);
  server.routes().Post(".*", record);
  server.routes().Delete(".*", record);
  server.routes().Put(".*", record);
  const std::string url = server.start();
  const std::vector<std::vector<std::string>> commands = {
      {"schedule", "show", "n"},         {"schedule", "rm", "n", "m.2"},
      {"schedule", "pause", "n"},        {"schedule", "resume", "n"},
      {"schedule", "trigger", "n"},      {"queue", "set", "q_1", "--max-running", "2"},
      {"queue", "set", "q", "--resume"}, {"queue", "set", "q", "--pause", "--max-running", "0"}};
  for (const std::vector<std::string>& args : commands) {
    const ClientResult r = client(url, args);
    EXPECT_EQ(r.code, 0) << args[0] << " " << args[1] << ": " << r.err;
  }
  std::vector<std::string> requests;
  for (const Seen& s : server.seen())
    requests.push_back(s.method + " " + s.target + (s.body.empty() ? "" : " " + s.body));
  EXPECT_EQ(requests,
            (std::vector<std::string>{
                "GET /api/schedules/n", "DELETE /api/schedules/n", "DELETE /api/schedules/m.2",
                "POST /api/schedules/n/pause", "POST /api/schedules/n/resume",
                "POST /api/schedules/n/trigger", R"(PUT /api/queues/q_1 {"max_running":2})",
                R"(PUT /api/queues/q {"paused":false})",
                R"(PUT /api/queues/q {"max_running":0,"paused":true})"}));
}

// ---- https

TEST(CliWire, HttpsWithACertificateTheSystemTrusts) {
  TempDir dir;
  const std::string cert = dir.path() + "/cert.pem";
  const std::string key = dir.path() + "/key.pem";
  const std::string make_cert =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -keyout " +
      key + " -out " + cert + " 2>/dev/null";
  ASSERT_EQ(std::system(make_cert.c_str()), 0) << "openssl could not make a certificate";
  StandIn server(std::make_unique<httplib::SSLServer>(cert.c_str(), key.c_str()));
  server.routes().Get("/api/stats", [](const httplib::Request&, httplib::Response& res) {
    answer(res, 200, {{"version", "over-tls"}, {"tasks", json::object()}});
  });
  const std::string url = server.start("https");

  // SSL_CERT_FILE stands for the system's CA bundle: the certificate is trusted there.
  const ClientResult trusted = client(url, {"stats"}, "", {"SSL_CERT_FILE=" + cert});
  ASSERT_EQ(trusted.code, 0) << trusted.err;
  EXPECT_EQ(json::parse(trusted.out).at("version"), "over-tls");

  const ClientResult untrusted =
      client(url, {"stats"}, "", {"SSL_CERT_FILE=" + dir.path() + "/none.pem"});
  EXPECT_EQ(untrusted.code, 3);
  EXPECT_EQ(untrusted.err, "uasyncd: the TLS certificate of " + url +
                               " could not be verified (SSL_CERT_FILE names a CA bundle to "
                               "trust)\n");

  const std::string plain = "http" + url.substr(5);  // http:// to a TLS port
  const ClientResult mismatch = client(plain, {"stats"});
  EXPECT_EQ(mismatch.code, 3);
  EXPECT_NE(mismatch.err.find(plain), std::string::npos) << mismatch.err;
}

}  // namespace
