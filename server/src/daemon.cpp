#include "uasyncd/server/daemon.hpp"

#include <spdlog/spdlog.h>
#include <uasyncio/uasyncio.hpp>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <utility>

#include "uasyncd/api/log_escape.hpp"
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
    spdlog::info("{} {} {} {}us", api::escape_for_log(method), api::escape_for_log(path), status,
                 micros);
  };
  return r;
}

api::HttpServerOptions http_options(const DaemonOptions& o) {
  api::HttpServerOptions h;
  // An open SSE stream holds a thread for as long as it is open: the pool has one per allowed
  // stream on top of the threads for ordinary requests, which streams can then never starve.
  // Long-polls hold none.
  h.worker_threads = o.http_threads + o.max_sse;
  h.max_deferred = o.max_waiters;
  h.max_body_bytes = api::kMaxBodyBytes;
  return h;
}

}  // namespace

Daemon::Daemon(DaemonOptions options)
    : options_(std::move(options)),
      read_cache_(options_.read_cache_size),
      http_(http_options(options_)),
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
  }
  loop_.start(
      options_.virtual_clock,
      [this, stored = std::move(stored), max_seq]() mutable {
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
      });
  routes_.install(http_);
  try {
    port_ = http_.start(options_.host, options_.port);
  } catch (const std::exception&) {
    stopped_ = true;
    loop_.post([this] { loop_.stop_from_loop(); });
    loop_.join();
    throw;
  }
  spdlog::info("uasyncd {} listening on {}:{}", kVersion, options_.host, port_);
}

void Daemon::stop() {
  if (stopped_.exchange(true)) return;
  spdlog::info("shutting down");
  routes_.close_streams();
  events_.close_all();
  // One grace for both: requests in flight, then the tasks.
  const auto grace =
      std::chrono::milliseconds(static_cast<std::int64_t>(options_.shutdown_grace * 1000));
  const auto deadline = std::chrono::steady_clock::now() + grace;
  http_.stop(grace);
  const std::int64_t grace_ms =
      std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
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

void Daemon::wait(const std::string& id, std::shared_ptr<api::TaskWaiter> waiter) {
  const bool posted = loop_.post([this, id, waiter] {
    if (std::optional<api::Reply> now = tasks_->finished_or_subscribe(id, waiter)) {
      waiter->answer(std::move(*now));
    }
  });
  if (!posted) waiter->answer(api::error_reply(503, "unavailable", "the task loop is stopping"));
}

void Daemon::end_wait(const std::string& id, std::shared_ptr<api::TaskWaiter> waiter,
                      bool answer_now) {
  const bool posted = loop_.post([this, id, waiter, answer_now] {
    if (!tasks_->drop_waiter(id, waiter) || !answer_now) return;
    api::Reply now = tasks_->get(id);
    // A serialized body is a finished task's.
    if (now.status == 200 && !now.raw_body && now.body.value("state", "") != "" &&
        !api::is_final(*api::parse_state(now.body.at("state").get<std::string>()))) {
      now.status = 202;
    }
    waiter->answer(std::move(now));
  });
  if (!posted && answer_now) {
    waiter->answer(api::error_reply(503, "unavailable", "the task loop is stopping"));
  }
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
