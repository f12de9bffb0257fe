// The loop thread's side of the daemon: submits, starts (at most max_running at once, the rest
// wait FIFO), cancels, times out, lists and forgets tasks. Never called from another thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "uasyncd/api/service.hpp"
#include "uasyncd/api/task_record.hpp"
#include "uasyncd/server/event_hub.hpp"
#include "uasyncd/server/finished_task_cache.hpp"
#include "uasyncd/server/registry.hpp"
#include "uasyncd/server/task_journal.hpp"

namespace uasyncd::server {

struct ServiceOptions {
  std::size_t max_running = 0;  // 0: no limit
  std::size_t keep_finished = 10'000;
  TaskJournal* journal = nullptr;  // durable storage told of every change; none: in memory only
  EventHub* events = nullptr;      // told of every transition, for GET /api/events
  std::int64_t exec_kill_grace_ms = 5000;
  // Filled by get() with finished tasks' bodies; told when a task leaves. None: no cache.
  FinishedTaskCache* read_cache = nullptr;
};

class TaskService final : public api::TaskObserver {
 public:
  TaskService(ServiceOptions options, std::unique_ptr<TaskRegistry> registry);
  ~TaskService() override;

  api::Reply submit(api::Spec spec, nlohmann::json spec_json);
  api::Reply list(const api::ListQuery& query) const;
  api::Reply get(const std::string& id) const;
  api::Reply cancel(const std::string& id);
  api::Reply set_timeout(const std::string& id, double timeout_s);
  api::Reply remove(const std::string& id);
  nlohmann::json stats() const;
  api::Reply output(const std::string& id) const;
  api::Reply follow_output(const std::string& id, std::shared_ptr<api::SseChannel> channel);
  std::string metrics() const;
  // The finished task's reply now, or nullopt after registering `waiter` for its end.
  std::optional<api::Reply> finished_or_subscribe(const std::string& id,
                                                  std::shared_ptr<api::TaskWaiter> waiter);
  // Forgets `waiter` (its poll ended); false if it was not waiting (answered already).
  bool drop_waiter(const std::string& id, const std::shared_ptr<api::TaskWaiter>& waiter);

  // Start-up (task_recovery.cpp): stored tasks come back as history, queued again, or
  // interrupted; ids continue after `max_seq`.
  void restore(std::vector<TaskPtr> tasks, std::uint64_t max_seq);

  // Shutdown: cancels every pending and running task.
  void cancel_all();
  std::size_t unfinished() const { return running_ + pending_.size(); }
  // Drops every task handle so that abandoned frames can be destroyed.
  void release_all();

  void task_started(api::TaskRecord& task) override;
  void task_finished(api::TaskRecord& task) override;
  void step_changed(api::TaskRecord& task, std::size_t index) override;
  void step_output(api::TaskRecord& task, std::size_t index, bool is_stderr,
                   std::string_view data) override;

 private:
  TaskPtr lookup(const std::string& id, api::Reply& not_found) const;
  // The task whose exec output `id` names (a task, or one exec step: `step`), or null with
  // the refusal in `refused`.
  TaskPtr lookup_output(const std::string& id, api::Reply& refused,
                        std::optional<std::size_t>& step) const;
  void count(api::State from, api::State to);
  // Logs a transition and tells the event stream about it.
  void transition(const api::TaskRecord& task, const char* type);
  void end_followers(const api::TaskRecord& task);
  void start_pending();
  void finished(api::TaskRecord& task);
  void finish_pending(api::TaskRecord& task, api::State state, api::ErrorInfo error);
  // A failed or timed-out task with retries left goes back to pending after its backoff.
  bool retry_later(api::TaskRecord& task);
  void evict_finished();
  // Takes the task out of the registry (and of the read cache, whose body would be stale).
  void forget(std::uint64_t seq);
  static uasyncio::Coro<void> start_pending_after(TaskService* self, std::int64_t ms);
  // Step changes are journaled in a batch shortly after, not one by one: a gather of thousands of
  // steps costs one snapshot. `with_output`: an exec step ended, its output goes along.
  void journal_later(const api::TaskRecord& task, bool with_output);
  // Journals the task now, with whatever output a pending journal_later asked for.
  void journal_now(const api::TaskRecord& task);
  void flush_journal();
  static uasyncio::Coro<void> flush_journal_soon(TaskService* self);

  ServiceOptions options_;
  std::unique_ptr<TaskRegistry> registry_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t submitted_ = 0;
  std::size_t running_ = 0;
  std::deque<TaskPtr> pending_;
  std::deque<std::uint64_t> finished_order_;
  std::map<api::State, std::size_t> counts_;
  std::unordered_map<std::uint64_t, std::vector<std::shared_ptr<api::TaskWaiter>>> waiters_;
  struct Follower {
    std::shared_ptr<api::SseChannel> channel;
    std::optional<std::size_t> step;  // only this step's output
  };
  std::unordered_map<std::uint64_t, std::vector<Follower>> followers_;
  std::unordered_map<std::uint64_t, bool> unjournaled_;  // seq -> with_output
  bool flush_queued_ = false;
};

}  // namespace uasyncd::server
