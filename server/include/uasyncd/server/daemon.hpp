// The daemon: the loop thread with its tasks, and the HTTP server whose handler threads reach
// those tasks only through the loop thread's command queue.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "uasyncd/api/http_server.hpp"
#include "uasyncd/api/routes.hpp"
#include "uasyncd/api/service.hpp"
#include "uasyncd/server/durable_writer.hpp"
#include "uasyncd/server/event_hub.hpp"
#include "uasyncd/server/loop_thread.hpp"
#include "uasyncd/server/task_service.hpp"

namespace uasyncd::server {

struct DaemonOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: an ephemeral port (see Daemon::port())
  std::string token;
  bool allow_exec = false;
  std::size_t max_running = 0;
  std::size_t keep_finished = 10'000;
  std::string data_dir;   // holds the task database; empty: tasks live in memory only
  bool full_sync = true;  // fsync every commit (see TaskStore::open)
  double shutdown_grace = 10;
  bool virtual_clock = false;
  std::size_t http_threads = 16;   // for ordinary requests; each open SSE stream gets its own
  std::size_t max_sse = 32;        // SSE streams open at once (503 past it)
  std::size_t max_waiters = 1024;  // long-polls (GET .../wait) waiting at once (503 past it)
  std::chrono::milliseconds sse_keepalive{15000};
  // A cancelled exec step's process group gets this long between SIGTERM and SIGKILL.
  double exec_kill_grace = 5;
  std::chrono::milliseconds loop_reply_timeout{5000};
  // Finished tasks whose GET body is kept serialized for the HTTP threads (0: none).
  std::size_t read_cache_size = 4096;
};

class Daemon final : public api::Service {
 public:
  explicit Daemon(DaemonOptions options);
  ~Daemon() override;

  // Binds and starts serving; throws std::runtime_error if the address cannot be bound.
  void start();
  int port() const { return port_; }
  // Graceful stop: no new requests, tasks cancelled, up to shutdown_grace for them to end.
  void stop();

  api::Reply submit(api::Spec spec, nlohmann::json spec_json) override;
  api::Reply list(const api::ListQuery& query) override;
  api::Reply get(const std::string& id) override;
  void wait(const std::string& id, std::shared_ptr<api::TaskWaiter> waiter) override;
  void end_wait(const std::string& id, std::shared_ptr<api::TaskWaiter> waiter,
                bool answer_now) override;
  api::Reply cancel(const std::string& id) override;
  api::Reply set_timeout(const std::string& id, double timeout_s) override;
  api::Reply remove(const std::string& id) override;
  api::Reply stats() override;
  std::optional<std::string> metrics() override;
  api::Reply output(const std::string& id) override;
  api::Reply follow_output(const std::string& id,
                           std::shared_ptr<api::SseChannel> channel) override;
  api::Reply subscribe_events(std::shared_ptr<api::SseChannel> channel) override;

 private:
  api::Reply on_loop(std::function<api::Reply(TaskService&)> fn);

  DaemonOptions options_;
  std::unique_ptr<DurableWriter> writer_;  // outlives the loop: it flushes what the loop queued
  EventHub events_;
  FinishedTaskCache read_cache_;
  std::unique_ptr<TaskService> tasks_;  // created, used and destroyed on the loop thread only
  LoopThread loop_;
  api::HttpServer http_;
  api::Routes routes_;
  int port_ = 0;
  std::atomic<bool> stopped_{false};
  std::chrono::steady_clock::time_point started_at_;
};

}  // namespace uasyncd::server
