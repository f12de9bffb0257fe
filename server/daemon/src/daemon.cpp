#include "uasyncd/daemon/daemon.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <system_error>
#include <utility>

#include <unistd.h>

#include "uasyncd/api/json_body.hpp"
#include "uasyncd/api/log_escape.hpp"
#include "uasyncd/store/store_error.hpp"
#include "uasyncd/version.hpp"

namespace uasyncd::server {
namespace {

api::RouteOptions route_options(const DaemonOptions& o) {
  api::RouteOptions r;
  r.token = o.token;
  r.metrics_public = o.metrics_public;
  r.origin.allow_origins = o.allow_origins;
  r.origin.allow_hosts = o.allow_hosts;
  r.origin.loopback_only = api::is_loopback_host(o.host);
  r.version = kVersion;
  r.max_running = o.max_running;
  r.keep_finished = o.keep_finished;
  r.sse.max_streams = o.max_sse;
  r.sse.keepalive = o.sse_keepalive;
  r.on_request = [](const std::string& method, const std::string& path, int status,
                    std::int64_t micros) {
    spdlog::info("{} {} {} {}us", api::escape_for_log(method), api::escape_for_log(path), status,
                 micros);
  };
  return r;
}

// A directory only the daemon's user can enter (exec specs' commands may be visible in what it
// holds), as the SQLite backend makes its own.
void make_private_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir, ec)) return;
  fs::create_directories(dir, ec);
  if (!ec) fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) throw StoreError(dir + ": cannot create the data directory: " + ec.message());
}

// A request about a task another instance may hold (a timeout, a step's cancel), as the bridge
// wants it answered: sent to the owner, which applies it or says why not.
std::optional<Result<Done>> ask_through_cluster(PgCluster& cluster, RemoteRequest::Kind kind,
                                                std::uint64_t id, std::int64_t value) {
  constexpr std::chrono::seconds kOwnerAnswers{2};
  using Kind = PgCluster::OwnerOutcome::Kind;
  const PgCluster::OwnerOutcome out = cluster.ask_owner(kind, id, value, kOwnerAnswers);
  std::string task = "t";  // (appended: GCC PR 105329's false -Wrestrict at -O3)
  task += std::to_string(id);
  const char* what = kind == RemoteRequest::Kind::timeout ? "a timeout" : "a step's cancel";
  switch (out.kind) {
    case Kind::applied:
      return Result<Done>(Done{});
    case Kind::not_live:
      return std::nullopt;
    case Kind::unowned:
      return Result<Done>(JobError{JobErrorCode::not_running,
                                   task +
                                       " waits for an instance of the cluster to take it: " + what +
                                       " reaches only the instance running it (send it again "
                                       "once it runs, or cancel the task)"});
    case Kind::no_answer:
      return Result<Done>(JobError{JobErrorCode::unavailable,
                                   "instance " + std::to_string(out.owner) + ", which holds " +
                                       task + ", did not answer " + what + " in time"});
    case Kind::refused:
      break;
  }
  if (out.code == "finished") return Result<Done>(JobError{JobErrorCode::finished, out.message});
  if (out.code == "gone") {
    return Result<Done>(JobError{JobErrorCode::unavailable,
                                 out.message + " (it moved between instances): send it again"});
  }
  return Result<Done>(JobError{JobErrorCode::not_running, out.message});
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
  if (!options_.database_url.empty()) {
    start_cluster();
    PostgresOptions postgres;
    postgres.url = options_.database_url;
    postgres.full_sync = options_.full_sync;
    postgres.instance = &cluster_->instance_id_ref();
    return open_postgres_backend(postgres, std::move(backend));
  }
  if (options_.data_dir.empty()) return make_memory_backend(std::move(backend));
  SqliteOptions sqlite;
  sqlite.dir = options_.data_dir;
  sqlite.full_sync = options_.full_sync;
  return open_sqlite_backend(sqlite, std::move(backend));
}

void Daemon::start_cluster() {
  ClusterOptions cluster;
  cluster.url = options_.database_url;
  cluster.name = options_.instance_name;
  if (cluster.name.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    cluster.name = std::string(host) + ":" + std::to_string(::getpid());
  }
  cluster.lease_ttl =
      std::chrono::milliseconds(static_cast<std::int64_t>(options_.lease_ttl * 1000));
  ClusterEvents events;
  // The bridge is made after the backend: what comes before it is not lost, since claims start
  // only when the service asks (want_claim, after its restore).
  events.claimed = [this](std::vector<ClaimedRow> rows) {
    if (JobBridge* b = removals_to_.load(std::memory_order_acquire)) b->adopt(std::move(rows));
  };
  events.cancel_requested = [this](std::vector<std::uint64_t> ids) {
    if (JobBridge* b = removals_to_.load(std::memory_order_acquire))
      b->cancel_requested(std::move(ids));
  };
  events.lease_lost = [this] {
    if (JobBridge* b = removals_to_.load(std::memory_order_acquire)) b->lease_lost();
  };
  events.running = [this]() -> std::size_t {
    JobBridge* b = removals_to_.load(std::memory_order_acquire);
    return b ? b->running() : 0;
  };
  events.watchers = [this]() -> std::size_t {
    JobBridge* b = removals_to_.load(std::memory_order_acquire);
    return b && b->has_subscribers() ? 1 : 0;
  };
  events.request_received = [this](RemoteRequest request) {
    JobBridge* b = removals_to_.load(std::memory_order_acquire);
    if (b == nullptr) return;             // starting: the asker hears nothing and says so
    PgCluster* cluster = cluster_.get();  // set before the bridge was made
    const auto answer = [cluster, request](std::string code, std::string message) {
      cluster->answer_request(request, std::move(code), std::move(message));
    };
    if (!b->remote_request(request.kind, request.id, request.value, answer)) {
      answer("gone", "the instance asked is stopping");
    }
  };
  events.remote_events = [this](std::vector<std::string> events) {
    if (JobBridge* b = removals_to_.load(std::memory_order_acquire))
      b->publish_remote(std::move(events));
  };
  cluster_ = PgCluster::start(cluster, std::move(events));
  spdlog::info("cluster instance {} ({}), lease {} s", cluster_->instance_id(), cluster.name,
               options_.lease_ttl);
}

std::unique_ptr<api::HttpServer> Daemon::make_http_server() {
  api::HttpServerOptions h;
  // An open SSE stream holds a thread for as long as it is open: the pool has one per allowed
  // stream on top of the threads for ordinary requests, which streams can then never starve.
  // Long-polls hold none.
  h.worker_threads = options_.http_threads + options_.max_sse;
  h.max_deferred = options_.max_waiters;
  h.max_body_bytes = api::kMaxBodyBytes;
  auto http = std::make_unique<api::HttpServer>(h);
  routes_->install(*http);
  return http;
}

void Daemon::start() {
  backend_ = make_backend();
  if (!options_.data_dir.empty()) {
    // The database is ours (locked): whatever still holds the exec lock is a previous run's.
    // (With --database-url the directory may not exist yet: SQLite would have made it.)
    if (!options_.database_url.empty()) make_private_dir(options_.data_dir);
    exec_lock_ = exec::ExecLock::acquire(
        options_.data_dir + "/exec.lock", {},
        [](const std::string& warning) { spdlog::warn("exec lock: {}", warning); });
  }
  BridgeOptions bridge;
  bridge.service.max_running = options_.max_running;
  bridge.service.max_running_given = options_.max_running_given;
  bridge.service.queue_limits = options_.queue_limits;
  bridge.service.allow_exec = options_.allow_exec;
  bridge.service.exec_kill_grace_ms = static_cast<std::int64_t>(options_.exec_kill_grace * 1000);
  bridge.virtual_clock = options_.virtual_clock;
  if (options_.virtual_clock) bridge.service.heartbeat_ms = 0;
  bridge.loop_reply_timeout = options_.loop_reply_timeout;
  bridge.bulk_max_jobs = options_.bulk_max_jobs;
  if (cluster_) {
    PgCluster* cluster = cluster_.get();
    bridge.service.want_claim = [cluster](std::map<std::string, std::size_t> free) {
      cluster->want_claim(std::move(free));
    };
    bridge.cancel_elsewhere = [cluster](std::uint64_t id) {
      return cluster->request_cancel(id).kind != PgCluster::CancelOutcome::Kind::not_live;
    };
    bridge.ask_owner = [cluster](RemoteRequest::Kind kind, std::uint64_t id, std::int64_t value) {
      return ask_through_cluster(*cluster, kind, id, value);
    };
    bridge.remote_watchers = [cluster] { return cluster->others_watch(); };
    bridge.lease_age = [cluster] { return cluster->lease_age(); };
    bridge.instance_id = [cluster] { return cluster->instance_id(); };
    bridge.forward_event = [cluster](std::string event) {
      cluster->forward_event(std::move(event));
    };
    bridge.watching = [cluster] { cluster->watching(); };
    bridge.instances = [cluster] {
      nlohmann::json out = nlohmann::json::array();
      const std::int64_t me = cluster->instance_id();
      for (const InstanceInfo& i : cluster->instances()) {
        out.push_back({{"id", i.id},
                       {"name", i.name},
                       {"started", static_cast<double>(i.started_ms) / 1000.0},
                       {"heartbeat_age", i.heartbeat_age_s},
                       {"running", i.running},
                       {"stopping", i.stopping},
                       {"self", i.id == me}});
      }
      return out;
    };
  }
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
  try {
    port_ = http_->start(options_.host, options_.port);
  } catch (const std::exception&) {
    stop();
    throw;
  }
  spdlog::info("uasyncd {} listening on {}:{}", kVersion, options_.host, port_);
}

void Daemon::stop() {
  if (!started_ || stopped_.exchange(true)) return;
  spdlog::info("shutting down");
  if (routes_) routes_->close_streams();
  // One grace for both: the requests in flight, then the jobs.
  const auto grace =
      std::chrono::milliseconds(static_cast<std::int64_t>(options_.shutdown_grace * 1000));
  const auto deadline = std::chrono::steady_clock::now() + grace;
  if (http_) http_->stop(grace);
  // Cluster mode: no more claims while the running tasks end.
  if (cluster_) cluster_->stopping();
  bridge_->stop(
      std::max(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 deadline - std::chrono::steady_clock::now())));
  backend_->close();
  if (cluster_) cluster_->stop();
}

}  // namespace uasyncd::server
