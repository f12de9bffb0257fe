#include "uasyncd/daemon/daemon.hpp"

#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <stdexcept>
#include <utility>

#include "uasyncd/version.hpp"

namespace uasyncd::server {
namespace {

api::RouteOptions route_options(const DaemonOptions& o) {
  api::RouteOptions r;
  r.token = o.token;
  r.version = kVersion;
  r.max_running = o.max_running;
  r.keep_finished = o.keep_finished;
  r.sse.max_streams = o.max_sse;
  r.sse.keepalive = o.sse_keepalive;
  r.on_request = [](const std::string& method, const std::string& path, int status,
                    std::int64_t micros) {
    spdlog::info("{} {} {} {}us", method, path, status, micros);
  };
  return r;
}

}  // namespace

Daemon::Daemon(DaemonOptions options)
    : options_(std::move(options)), read_cache_(options_.read_cache_size) {}

Daemon::~Daemon() {
  stop();
}

std::unique_ptr<JobBackend> Daemon::make_backend() {
  BackendOptions backend;
  backend.retention = {options_.keep_finished, options_.keep_for};
  // A job retention removed must not be served from the cache either.
  // Clients are told too ("removed" events), once the bridge is there to tell them.
  backend.on_removed = [this](std::span<const RemovedJob> jobs) {
    std::vector<std::uint64_t> ids;
    ids.reserve(jobs.size());
    for (const RemovedJob& j : jobs)
      ids.push_back(j.id);
    read_cache_.erase(ids);
    if (JobBridge* bridge = removals_to_.load(std::memory_order_acquire)) {
      bridge->publish_removed(jobs, "evicted");
    }
  };
  if (options_.data_dir.empty()) return make_memory_backend(std::move(backend));
  SqliteOptions sqlite;
  sqlite.dir = options_.data_dir;
  sqlite.full_sync = options_.full_sync;
  return open_sqlite_backend(sqlite, std::move(backend));
}

std::unique_ptr<httplib::Server> Daemon::make_http_server() {
  auto http = std::make_unique<httplib::Server>();
  // An open SSE stream holds a thread for as long as it is open: the pool has one per allowed
  // stream on top of the threads for ordinary requests, which streams can then never starve.
  const std::size_t threads = options_.http_threads + options_.max_sse;
  http->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http->set_tcp_nodelay(true);
  http->set_keep_alive_timeout(5);
  http->set_read_timeout(5);
  routes_->install(*http);
  return http;
}

// Binds; the port, or -1.
int Daemon::listen() {
  // cpp-httplib listens with a backlog of 5, so a burst of clients gets connections reset;
  // Linux lets a second listen() on the bound socket raise it, which needs the socket's fd.
  // Shared, not a reference to a local: the server keeps the callback after this returns.
  auto listen_fd = std::make_shared<int>(-1);
  http_->set_socket_options([listen_fd](socket_t fd) {
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    *listen_fd = fd;
  });
  int port = -1;
  if (options_.port == 0) {
    port = http_->bind_to_any_port(options_.host);
  } else {
    port = http_->bind_to_port(options_.host, options_.port) ? options_.port : -1;
  }
  if (port > 0 && *listen_fd >= 0) ::listen(*listen_fd, SOMAXCONN);
  return port;
}

void Daemon::start() {
  backend_ = make_backend();
  if (!options_.data_dir.empty()) {
    // The database is ours (locked): whatever still holds the exec lock is a previous run's.
    exec_lock_ = exec::ExecLock::acquire(
        options_.data_dir + "/exec.lock", {},
        [](const std::string& warning) { spdlog::warn("exec lock: {}", warning); });
  }
  BridgeOptions bridge;
  bridge.service.max_running = options_.max_running;
  bridge.service.allow_exec = options_.allow_exec;
  bridge.service.exec_kill_grace_ms = static_cast<std::int64_t>(options_.exec_kill_grace * 1000);
  bridge.virtual_clock = options_.virtual_clock;
  bridge.loop_reply_timeout = options_.loop_reply_timeout;
  bridge.bulk_max_jobs = options_.bulk_max_jobs;
  if (!options_.exec_supervisor.empty()) {
    bridge.exec_supervisor =
        exec::SupervisorOptions{options_.exec_supervisor, exec_lock_ ? exec_lock_->fd() : -1, 64};
  }
  bridge_ = std::make_unique<JobBridge>(std::move(bridge), *backend_, read_cache_);
  // Before the loop starts: the restore's writes may already evict.
  removals_to_.store(bridge_.get(), std::memory_order_release);
  bridge_->start();
  started_ = true;
  routes_ = std::make_unique<api::Routes>(*bridge_, route_options(options_));
  http_ = make_http_server();
  port_ = listen();
  if (port_ <= 0) {
    stop();
    throw std::runtime_error("cannot listen on " + options_.host + ":" +
                             std::to_string(options_.port));
  }
  http_thread_ = std::thread([this] { http_->listen_after_bind(); });
  // A stop() before listen_after_bind got going would be ignored by cpp-httplib.
  while (!http_->is_running())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  spdlog::info("uasyncd {} listening on {}:{}", kVersion, options_.host, port_);
}

void Daemon::stop() {
  if (!started_ || stopped_.exchange(true)) return;
  spdlog::info("shutting down");
  if (routes_) routes_->close_streams();
  if (http_) {
    http_->stop();
    if (http_thread_.joinable()) http_thread_.join();
  }
  bridge_->stop(
      std::chrono::milliseconds(static_cast<std::int64_t>(options_.shutdown_grace * 1000)));
  backend_->close();
}

}  // namespace uasyncd::server
