#include "uasyncd/daemon/serve_command.hpp"

#include <httplib.h>
#include <malloc.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <exception>
#include <optional>
#include <regex>
#include <string>
#include <utility>

#include "uasyncd/daemon/duration.hpp"
#include "uasyncd/job/job_spec.hpp"

namespace uasyncd::server {
namespace {

// host:port with a port of 1 to 5 plain digits (std::stoi would take " 80" and "+80").
bool split_listen(const std::string& listen, std::string& host, int& port) {
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = listen.substr(0, colon);
  const std::string digits = listen.substr(colon + 1);
  if (digits.empty() || digits.size() > 5 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return false;
  port = std::stoi(digits);
  return port <= 65535;
}

// A number from `min` to `max` (NaN and infinities are outside every range; CLI11's own
// validators let NaN through, and a negative count would wrap around in a size_t).
// "--queue NAME=N": the queue's name and limit, or nullopt.
std::optional<std::pair<std::string, std::size_t>> parse_queue_limit(const std::string& text) {
  const std::size_t eq = text.rfind('=');
  if (eq == std::string::npos) return std::nullopt;
  std::string name = text.substr(0, eq);
  const std::string number = text.substr(eq + 1);
  if (!queue_name_ok(name) || number.empty() || number.size() > 7) return std::nullopt;
  std::size_t n = 0;
  for (char c : number) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  if (n > 1'000'000) return std::nullopt;
  return std::make_pair(std::move(name), n);
}

CLI::Validator number_from(double min, double max) {
  return CLI::Validator(
      [min, max](const std::string& text) -> std::string {
        double value = 0;
        if (!CLI::detail::lexical_cast(text, value) || !std::isfinite(value) || value < min ||
            value > max) {
          return "expected a number from " + CLI::detail::to_string(min) + " to " +
                 CLI::detail::to_string(max) + ", got '" + text + "'";
        }
        return std::string();
      },
      "NUMBER in [" + CLI::detail::to_string(min) + " - " + CLI::detail::to_string(max) + "]");
}

// The container's health probe: GET /healthz on the daemon at --listen, exit 0 if it answers 200.
// A wildcard address is reached through loopback.
int probe_health(const std::string& host, int port) {
  const std::string target = host == "0.0.0.0" ? "127.0.0.1" : host == "::" ? "::1" : host;
  httplib::Client client(target, port);
  client.set_connection_timeout(2);
  client.set_read_timeout(2);
  const httplib::Result r = client.Get("/healthz");
  return r && r->status == 200 ? 0 : 1;
}

}  // namespace

void add_serve_flags(CLI::App& app, ServeFlags& f) {
  DaemonOptions& o = f.options;
  app.add_option("--listen", f.listen, "host:port to listen on (port 0: any free port)")
      ->envname("UASYNCD_LISTEN");
  app.add_option("--token", o.token,
                 "the API token: serve requires 'Authorization: Bearer <token>' on /api, the "
                 "client commands send it")
      ->envname("UASYNCD_TOKEN");
  app.add_flag("--metrics-public", o.metrics_public,
               "serve GET /metrics without the token (task states and counts become public)")
      ->envname("UASYNCD_METRICS_PUBLIC");
  app.add_option("--allow-origin", o.allow_origins,
                 "a web origin (scheme://host:port) whose pages may send POST and DELETE "
                 "requests and get CORS headers; repeat or separate with commas")
      ->envname("UASYNCD_ALLOW_ORIGIN")
      ->delimiter(',')
      ->check([](const std::string& origin) {
        static const std::regex form(R"(https?://[^/\s]+)");
        return std::regex_match(origin, form)
                   ? std::string()
                   : "expected an origin such as http://localhost:3000, got '" + origin + "'";
      });
  app.add_option("--allow-host", o.allow_hosts,
                 "a Host name accepted besides loopback ones while listening on loopback (for a "
                 "proxy in front); repeat or separate with commas")
      ->envname("UASYNCD_ALLOW_HOST")
      ->delimiter(',');
  app.add_flag("--allow-exec", o.allow_exec, "allow exec steps (runs commands!)")
      ->envname("UASYNCD_ALLOW_EXEC");
  app.add_option("--max-running", o.max_running,
                 "tasks of the default queue running at once (0: no limit)")
      ->envname("UASYNCD_MAX_RUNNING")
      ->check(number_from(0, 1'000'000))
      ->each([&o](const std::string&) { o.max_running_given = true; });
  app.add_option("--queue", f.queues,
                 "a named queue's limit of tasks running at once, NAME=N (0: no limit); repeat "
                 "or separate with commas; replaces a limit set by PUT /api/queues")
      ->envname("UASYNCD_QUEUE")
      ->delimiter(',')
      ->check([](const std::string& text) {
        return parse_queue_limit(text) ? std::string()
                                       : "expected NAME=N: a name of 1 to 128 of A-Z a-z 0-9 . "
                                         "_ - and a whole number from 0 to 1000000";
      });
  app.add_option("--keep-finished", o.keep_finished,
                 "finished tasks kept in the store; the longest finished go first")
      ->envname("UASYNCD_KEEP_FINISHED")
      ->check(number_from(0, 1'000'000'000));
  app.add_option("--keep-for", f.keep_for,
                 "finished tasks kept at most this long (e.g. 30d, 12h, 90m, 45s, 500ms)")
      ->envname("UASYNCD_KEEP_FOR")
      ->check([](const std::string& text) {
        return parse_duration(text) ? std::string()
                                    : "expected a positive whole number and a unit (ms, s, m, "
                                      "h, d), e.g. 30d or 12h, got '" +
                                          text + "'";
      });
  app.add_option("--data-dir", f.data_dir,
                 "directory of the task database (uasyncd.db; default ./data); with "
                 "--database-url, of the exec lock only")
      ->envname("UASYNCD_DATA_DIR");
  CLI::Option* database_url =
      app.add_option("--database-url", f.database_url,
                     "keep tasks in PostgreSQL: a libpq connection string or URI, e.g. "
                     "postgres://uasyncd@db/uasyncd or host=/run/postgresql dbname=uasyncd "
                     "(put the password in PGPASSWORD or ~/.pgpass, not here)")
          ->envname("UASYNCD_DATABASE_URL");
  app.add_option("--lease-ttl", o.lease_ttl,
                 "cluster mode (--database-url): seconds an instance's lease lasts; a dead "
                 "instance's tasks move on after about this long, and an instance that cannot "
                 "renew it in time stops its own tasks")
      ->envname("UASYNCD_LEASE_TTL")
      ->check(number_from(1, 3600));
  app.add_option("--instance-name", o.instance_name,
                 "cluster mode: this instance's name in GET /api/instances (default host:pid)")
      ->envname("UASYNCD_INSTANCE_NAME");
  app.add_option("--sync", f.sync,
                 "full: fsync every commit (survives power loss); normal: survives crashes")
      ->envname("UASYNCD_SYNC")
      ->check(CLI::IsMember({"full", "normal"}));
  app.add_flag("--ephemeral", f.ephemeral, "keep tasks in memory only: lost at exit")
      ->envname("UASYNCD_EPHEMERAL")
      ->excludes(database_url);
  app.add_option("--log-level", f.log_level, "trace, debug, info, warn, error, off")
      ->envname("UASYNCD_LOG_LEVEL");
  app.add_option("--shutdown-grace", o.shutdown_grace,
                 "seconds cancelled tasks get to finish at shutdown")
      ->envname("UASYNCD_SHUTDOWN_GRACE")
      ->check(number_from(0, 3600));
  app.add_option("--http-threads", o.http_threads, "HTTP worker threads")
      ->envname("UASYNCD_HTTP_THREADS")
      ->check(CLI::Range(1, 1024));
  app.add_option("--max-sse", o.max_sse, "event streams open at once (each holds a thread)")
      ->envname("UASYNCD_MAX_SSE")
      ->check(CLI::Range(1, 1024));
  app.add_option("--max-waiters", o.max_waiters,
                 "long-polls (GET /api/tasks/{id}/wait) waiting at once; they hold no thread")
      ->envname("UASYNCD_MAX_WAITERS")
      ->check(CLI::Range(1, 1'000'000));
  app.add_option("--exec-kill-grace", o.exec_kill_grace,
                 "seconds a cancelled exec step's processes get between SIGTERM and SIGKILL")
      ->envname("UASYNCD_EXEC_KILL_GRACE")
      ->check(number_from(0, 3600));
  app.add_flag("--virtual-clock", o.virtual_clock,
               "run the loop on a virtual clock (for tests: sleeps take no time)")
      ->envname("UASYNCD_VIRTUAL_CLOCK");
  app.add_flag("--healthcheck", f.healthcheck,
               "probe the daemon at --listen (GET /healthz): exit 0 if healthy, 1 if not");
}

int serve(ServeFlags& f) {
  DaemonOptions& options = f.options;
  if (!split_listen(f.listen, options.host, options.port)) {
    std::fprintf(stderr, "--listen: expected host:port, got '%s'\n", f.listen.c_str());
    return 2;
  }
  if (f.healthcheck) return probe_health(options.host, options.port);
  // glibc raises its mmap threshold each time a large block is freed (up to 32 MiB); from then
  // on large answers and bodies come from the heap, whose freed pages it keeps: 200 long-polls
  // of a 1.6 MB record left 450-510 MiB resident after they ended. A fixed threshold keeps
  // blocks of 256 KiB and more in mappings of their own, given back when they are freed.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  const spdlog::level::level_enum level = spdlog::level::from_str(f.log_level);
  if (level == spdlog::level::off && f.log_level != "off") {
    std::fprintf(stderr, "--log-level: unknown level '%s'\n", f.log_level.c_str());
    return 2;
  }
  spdlog::set_level(level);
  if (!f.database_url.empty()) {
    options.database_url = f.database_url;
    // The tasks are in the database; a data directory, if given, holds the exec lock (so a
    // restart stops the exec processes a killed run left).
    options.data_dir = f.data_dir;
  } else if (!f.ephemeral) {
    options.data_dir = f.data_dir.empty() ? "./data" : f.data_dir;
  }
  options.full_sync = f.sync == "full";
  for (const std::string& text : f.queues) {
    const std::optional<std::pair<std::string, std::size_t>> limit = parse_queue_limit(text);
    if (limit->first == "default" && options.max_running_given) {
      std::fprintf(stderr, "--queue default=N and --max-running set the same limit: give one\n");
      return 2;
    }
    options.queue_limits[limit->first] = limit->second;
  }
  if (auto d = options.queue_limits.find("default"); d != options.queue_limits.end()) {
    options.max_running = d->second;
    options.max_running_given = true;
    options.queue_limits.erase(d);
  }
  if (!f.keep_for.empty()) options.keep_for = parse_duration(f.keep_for);

  // Blocked before any thread starts, so every thread inherits the mask and the signals are
  // taken only by sigwait below, outside any signal handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  try {
    Daemon daemon(options);
    daemon.start();
    std::printf("listening on %s:%d\n", options.host.c_str(), daemon.port());
    std::fflush(stdout);
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("signal {}: stopping", sig);
    daemon.stop();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 0;
}

}  // namespace uasyncd::server
