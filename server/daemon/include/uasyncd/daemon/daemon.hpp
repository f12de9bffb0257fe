// The composition root: builds the backend, the thread bridge (with the loop thread and the job
// service on it), the HTTP routes and the HTTP server, and starts and stops them in order.
//
// Threads: construct, start() and stop() from one thread (main, or a test); everything else runs
// on the threads these parts start.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "uasyncd/api/http_server.hpp"
#include "uasyncd/api/routes.hpp"
#include "uasyncd/bridge/finished_job_cache.hpp"
#include "uasyncd/bridge/job_bridge.hpp"
#include "uasyncd/exec/exec_lock.hpp"
#include "uasyncd/store/job_backend.hpp"
#include "uasyncd/store/pg_cluster.hpp"

namespace uasyncd::server {

struct DaemonOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: an ephemeral port (see Daemon::port())
  std::string token;
  // Browsers: origins allowed to send state-changing requests (besides the daemon's own), and
  // Host names accepted besides loopback ones (api/origin_policy.hpp).
  std::vector<std::string> allow_origins;
  std::vector<std::string> allow_hosts;
  bool metrics_public = false;  // GET /metrics without the token
  bool allow_exec = false;
  std::size_t max_running = 0;     // the default queue's limit
  bool max_running_given = false;  // replaces the stored limit of the default queue
  std::map<std::string, std::size_t> queue_limits;    // --queue NAME=N: replace stored limits
  std::size_t keep_finished = 10'000;                 // finished jobs the store keeps
  std::optional<std::chrono::milliseconds> keep_for;  // and none finished longer ago
  std::string data_dir;  // holds the job database; empty: jobs live in memory only
  // Jobs in PostgreSQL (a libpq connection string or URI) instead; data_dir, if set, then holds
  // only the exec lock.
  std::string database_url;
  bool full_sync = true;  // fsync every commit (see SqliteOptions)
  // Cluster mode (with database_url): the instance's lease, renewed every fifth of it, and its
  // name in GET /api/instances (empty: host:pid).
  double lease_ttl = 10;
  std::string instance_name;
  double shutdown_grace = 10;
  bool virtual_clock = false;
  std::size_t http_threads = 16;   // for ordinary requests; each open SSE stream gets its own
  std::size_t max_sse = 32;        // SSE streams open at once (503 past it)
  std::size_t max_waiters = 1024;  // long-polls (GET .../wait) waiting at once (503 past it)
  std::chrono::milliseconds sse_keepalive{15000};
  // A cancelled exec step's process group gets this long between SIGTERM and SIGKILL.
  double exec_kill_grace = 5;
  // The executable that runs the exec supervisor (exec/supervisor_main.hpp): the daemon's own
  // binary, "/proc/self/exe". Empty: exec steps fail ("exec steps need the exec supervisor").
  std::string exec_supervisor;
  std::chrono::milliseconds loop_reply_timeout{5000};
  // Finished jobs whose GET body is kept serialized for the HTTP threads (0: none).
  std::size_t read_cache_size = 4096;
  // Tasks one POST /api/tasks/bulk handles before it answers "more" (tests lower it).
  std::uint64_t bulk_max_jobs = kBulkMaxJobs;
};

class Daemon {
 public:
  explicit Daemon(DaemonOptions options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Opens the store, starts the loop, binds and starts serving; throws StoreError (an unusable
  // store) or std::runtime_error (the address cannot be bound).
  void start();
  int port() const { return port_; }
  // Graceful stop: no new requests, slow and idle connections closed, one shutdown_grace for the
  // requests in flight and then the jobs (cancelled) to end, then everything queued for the
  // store is committed.
  void stop();

 private:
  std::unique_ptr<JobBackend> make_backend();
  // Cluster mode: joins the cluster as a new instance (pg_cluster.hpp).
  void start_cluster();
  // The one place the HTTP server is made and configured.
  std::unique_ptr<api::HttpServer> make_http_server();

  DaemonOptions options_;
  FinishedJobCache read_cache_;
  // Cluster mode: this instance's membership; made before the backend (whose writes it fences)
  // and stopped after it, so the instance's row goes only once its last writes are in.
  std::unique_ptr<PgCluster> cluster_;
  std::unique_ptr<JobBackend> backend_;  // outlives the loop: it commits what the loop queued
  // Held from start() on (with a data directory): a previous run's exec processes are gone
  // (exec/exec_lock.hpp). The supervisor inherits it, so it stays held while any exec runs.
  std::optional<exec::ExecLock> exec_lock_;
  std::unique_ptr<JobBridge> bridge_;
  // Where retention's removals and the cluster's messages are told (the bridge, once made): read
  // by the writer thread and the cluster's.
  std::atomic<JobBridge*> removals_to_{nullptr};
  std::unique_ptr<api::Routes> routes_;
  std::unique_ptr<api::HttpServer> http_;
  int port_ = 0;
  bool started_ = false;
  std::atomic<bool> stopped_{false};
};

}  // namespace uasyncd::server
