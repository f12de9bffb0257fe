#include "uasyncd/server/daemon.hpp"

#include <spdlog/spdlog.h>
#include <uasyncio/uasyncio.hpp>

#include <sys/socket.h>

#include <stdexcept>
#include <utility>

#include "uasyncd/server/task_snapshot.hpp"
#include "uasyncd/server/version.hpp"

namespace uasyncd::server {
namespace {

namespace ua = uasyncio;

// Gives cancelled tasks up to `grace_ms` (loop time) to finish, then stops the loop.
ua::Coro<void> drain_then_stop(TaskService* tasks, LoopThread* loop, std::int64_t grace_ms) {
  const std::int64_t deadline = ua::ticks_ms() + grace_ms;
  while (tasks->unfinished() > 0 && ua::ticks_ms() < deadline)
    co_await ua::sleep_ms(10);
  if (tasks->unfinished() > 0) {
    spdlog::warn("shutdown: {} tasks still running after the grace period", tasks->unfinished());
  }
  loop->stop_from_loop();
}

api::RouteOptions route_options(const DaemonOptions& o) {
  api::RouteOptions r;
  r.token = o.token;
  r.allow_exec = o.allow_exec;
  r.max_sse = o.max_sse;
  r.sse_keepalive = o.sse_keepalive;
  r.on_request = [](const std::string& method, const std::string& path, int status,
                    std::int64_t micros) {
    spdlog::info("{} {} {} {}us", method, path, status, micros);
  };
  return r;
}

}  // namespace

Daemon::Daemon(DaemonOptions options)
    : options_(std::move(options)),
      read_cache_(options_.read_cache_size),
      routes_(*this, route_options(options_)) {}

Daemon::~Daemon() {
  stop();
}

void Daemon::start() {
  started_at_ = std::chrono::steady_clock::now();
  std::vector<TaskPtr> stored;
  std::uint64_t max_seq = 0;
  if (!options_.data_dir.empty()) {
    std::unique_ptr<TaskStore> store = TaskStore::open(options_.data_dir, options_.full_sync);
    max_seq = store->max_seq();
    // Retention before loading: rows it would drop at once are never read.
    if (const std::size_t trimmed = store->trim_finished(options_.keep_finished)) {
      spdlog::info("{}: {} old finished tasks deleted (--keep-finished)", store->path(), trimmed);
    }
    std::size_t unreadable = 0;
    for (const StoredTask& row : store->load()) {
      std::string why;
      if (TaskPtr task = rebuild(row, why)) {
        stored.push_back(std::move(task));
      } else {
        ++unreadable;
        spdlog::error("{}: task t{} cannot be read back, left in the file: {}", store->path(),
                      row.seq, why);
      }
    }
    spdlog::info("task store {}: {} tasks ({} unreadable)", store->path(), stored.size(),
                 unreadable);
    writer_ = std::make_unique<DurableWriter>(std::move(store), max_seq);
    // The database is ours (locked): whatever still holds the exec lock is a previous run's.
    exec_lock_ = exec::ExecLock::acquire(
        options_.data_dir + "/exec.lock", {},
        [](const std::string& warning) { spdlog::warn("exec lock: {}", warning); });
  }
  loop_.start(
      options_.virtual_clock,
      [this, stored = std::move(stored), max_seq]() mutable {
        if (!options_.exec_supervisor.empty()) {
          exec_ = std::make_unique<exec::SupervisorClient>(exec::SupervisorOptions{
              options_.exec_supervisor, exec_lock_ ? exec_lock_->fd() : -1, 64});
          // Started now, not at the first exec step, which would wait for it.
          if (options_.allow_exec) {
            try {
              exec_->start();
            } catch (const exec::SupervisorError& e) {
              spdlog::error("exec supervisor: {} (exec steps will try again)", e.what());
            }
          }
        }
        tasks_ = std::make_unique<TaskService>(
            ServiceOptions{options_.max_running, options_.keep_finished, writer_.get(), &events_,
                           static_cast<std::int64_t>(options_.exec_kill_grace * 1000),
                           &read_cache_},
            make_memory_registry());
        tasks_->restore(std::move(stored), max_seq);
        ua::get_event_loop().set_exception_handler(
            [](ua::Loop&, const ua::ExceptionContext& c) { spdlog::debug("loop: {}", c.message); });
      },
      [this] {
        tasks_->release_all();
        ua::get_event_loop().reset();
        tasks_.reset();
        exec_.reset();  // waits until the supervisor has killed and reaped every exec process
      });
  // An open SSE stream holds a thread for as long as it is open: the pool has one per allowed
  // stream on top of the threads for ordinary requests, which streams can then never starve.
  const std::size_t threads = options_.http_threads + options_.max_sse;
  http_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_.set_tcp_nodelay(true);
  http_.set_keep_alive_timeout(5);
  http_.set_read_timeout(5);
  routes_.install(http_);
  // cpp-httplib listens with a backlog of 5, so a burst of clients gets connections reset;
  // Linux lets a second listen() on the bound socket raise it, which needs the socket's fd.
  int listen_fd = -1;
  http_.set_socket_options([&listen_fd](socket_t fd) {
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    listen_fd = fd;
  });
  if (options_.port == 0) {
    port_ = http_.bind_to_any_port(options_.host);
  } else {
    port_ = http_.bind_to_port(options_.host, options_.port) ? options_.port : -1;
  }
  if (port_ <= 0) {
    stopped_ = true;
    loop_.post([this] { loop_.stop_from_loop(); });
    loop_.join();
    throw std::runtime_error("cannot listen on " + options_.host + ":" +
                             std::to_string(options_.port));
  }
  if (listen_fd >= 0) ::listen(listen_fd, SOMAXCONN);
  http_thread_ = std::thread([this] { http_.listen_after_bind(); });
  // A stop() before listen_after_bind got going would be ignored by cpp-httplib.
  while (!http_.is_running())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  spdlog::info("uasyncd {} listening on {}:{}", kVersion, options_.host, port_);
}

void Daemon::stop() {
  if (stopped_.exchange(true)) return;
  spdlog::info("shutting down");
  routes_.close_streams();
  events_.close_all();
  http_.stop();
  if (http_thread_.joinable()) http_thread_.join();
  const auto grace_ms = static_cast<std::int64_t>(options_.shutdown_grace * 1000);
  loop_.post([this, grace_ms] {
    tasks_->cancel_all();
    ua::create_task(drain_then_stop(tasks_.get(), &loop_, grace_ms));
  });
  loop_.join();
  if (writer_) writer_->stop();
}

api::Reply Daemon::on_loop(std::function<api::Reply(TaskService&)> fn) {
  std::optional<api::Reply> reply = loop_.call<api::Reply>(
      [this, fn = std::move(fn)] { return fn(*tasks_); }, options_.loop_reply_timeout);
  if (!reply) return api::error_reply(503, "unavailable", "the task loop did not answer in time");
  return std::move(*reply);
}

api::Reply Daemon::submit(api::Spec spec, nlohmann::json spec_json) {
  // The spec moves into a shared holder: std::function needs a copyable callable.
  auto args =
      std::make_shared<std::pair<api::Spec, nlohmann::json>>(std::move(spec), std::move(spec_json));
  api::Reply reply = on_loop(
      [args](TaskService& t) { return t.submit(std::move(args->first), std::move(args->second)); });
  if (!writer_ || reply.status != 201) return reply;
  // 201 promises the task survives a crash: answer it only once its insert is committed.
  const std::optional<api::TaskRef> ref = api::parse_task_ref(reply.body.value("id", ""));
  if (!ref || !writer_->wait_durable(ref->seq, options_.loop_reply_timeout)) {
    return api::error_reply(503, "unavailable", "the task could not be stored in time");
  }
  return reply;
}

api::Reply Daemon::list(const api::ListQuery& query) {
  return on_loop([query](TaskService& t) { return t.list(query); });
}

api::Reply Daemon::get(const std::string& id) {
  if (const std::optional<api::TaskRef> ref = api::parse_task_ref(id); ref && !ref->step) {
    if (FinishedTaskCache::Body body = read_cache_.find(ref->seq))
      return api::Reply::serialized(body);
  }
  return on_loop([id](TaskService& t) { return t.get(id); });
}

api::Reply Daemon::wait(const std::string& id, double timeout_s) {
  auto waiter = std::make_shared<FinishWaiter>();
  std::optional<std::optional<api::Reply>> first = loop_.call<std::optional<api::Reply>>(
      [this, id, waiter] { return tasks_->finished_or_subscribe(id, waiter); },
      options_.loop_reply_timeout);
  if (!first) return api::error_reply(503, "unavailable", "the task loop did not answer in time");
  if (*first) return std::move(**first);
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000));
  // In slices, so that a shutdown does not wait for long polls to run out.
  while (!stopped_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    if (auto reply = waiter->wait(std::min(left, std::chrono::milliseconds(100)))) return *reply;
  }
  api::Reply now = get(id);
  // A serialized body is a finished task's.
  if (now.status == 200 && !now.raw_body && now.body.value("state", "") != "" &&
      !api::is_final(*api::parse_state(now.body.at("state").get<std::string>()))) {
    now.status = 202;
  }
  return now;
}

api::Reply Daemon::cancel(const std::string& id) {
  return on_loop([id](TaskService& t) { return t.cancel(id); });
}

api::Reply Daemon::set_timeout(const std::string& id, double timeout_s) {
  return on_loop([id, timeout_s](TaskService& t) { return t.set_timeout(id, timeout_s); });
}

api::Reply Daemon::remove(const std::string& id) {
  return on_loop([id](TaskService& t) { return t.remove(id); });
}

api::Reply Daemon::stats() {
  api::Reply reply = on_loop([](TaskService& t) { return api::Reply{200, t.stats()}; });
  if (reply.status != 200) return reply;
  reply.body["loop_lag_seconds"] = loop_.lag_seconds();
  reply.body["uptime_seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at_).count();
  reply.body["version"] = kVersion;
  return reply;
}

std::optional<std::string> Daemon::metrics() {
  std::optional<std::string> text =
      loop_.call<std::string>([this] { return tasks_->metrics(); }, options_.loop_reply_timeout);
  if (!text) return std::nullopt;
  *text +=
      "# HELP uasyncd_loop_lag_seconds How long the last command waited for the loop.\n"
      "# TYPE uasyncd_loop_lag_seconds gauge\n"
      "uasyncd_loop_lag_seconds " +
      std::to_string(loop_.lag_seconds()) + "\n";
  return text;
}

api::Reply Daemon::output(const std::string& id) {
  return on_loop([id](TaskService& t) { return t.output(id); });
}

api::Reply Daemon::follow_output(const std::string& id, std::shared_ptr<api::SseChannel> channel) {
  return on_loop([id, channel](TaskService& t) { return t.follow_output(id, channel); });
}

api::Reply Daemon::subscribe_events(std::shared_ptr<api::SseChannel> channel) {
  events_.subscribe(std::move(channel));
  return {200, nlohmann::json::object()};
}

}  // namespace uasyncd::server
