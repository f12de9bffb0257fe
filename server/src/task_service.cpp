#include "uasyncd/server/task_service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <sstream>
#include <utility>

#include "uasyncd/api/engine.hpp"

namespace uasyncd::server {

using api::Reply;
using api::State;

TaskService::TaskService(ServiceOptions options, std::unique_ptr<TaskRegistry> registry)
    : options_(options), registry_(std::move(registry)) {}

TaskService::~TaskService() {
  release_all();
}

void TaskService::count(State from, State to) {
  --counts_[from];
  ++counts_[to];
}

Reply TaskService::submit(api::Spec spec, nlohmann::json spec_json) {
  auto task = std::make_shared<api::TaskRecord>(next_seq_++, std::move(spec), std::move(spec_json));
  task->observer = this;
  task->exec_kill_grace_ms = options_.exec_kill_grace_ms;
  registry_->add(task);
  if (options_.journal != nullptr) options_.journal->submitted(*task);
  ++submitted_;
  ++counts_[State::pending];
  transition(*task, "submitted");
  if (options_.max_running == 0 || running_ < options_.max_running) {
    api::start_task(task);
  } else {
    pending_.push_back(task);
  }
  return {201, task->full_json()};
}

TaskPtr TaskService::lookup(const std::string& id, Reply& not_found) const {
  std::optional<api::TaskRef> ref = api::parse_task_ref(id);
  TaskPtr task = ref ? registry_->find(ref->seq) : nullptr;
  if (!task || (ref->step && *ref->step >= task->steps.size())) {
    not_found = api::error_reply(404, "not_found", "no task or step " + id);
    return nullptr;
  }
  return task;
}

Reply TaskService::list(const api::ListQuery& query) const {
  nlohmann::json items = nlohmann::json::array();
  std::optional<std::uint64_t> last;
  bool more = false;
  registry_->visit_newest_first(query.before, [&](const TaskPtr& t) {
    if (query.state && t->state != *query.state) return true;
    if (query.name && t->name() != *query.name) return true;
    if (items.size() == query.limit) {
      more = true;
      return false;
    }
    items.push_back(t->summary_json());
    last = t->seq;
    return true;
  });
  nlohmann::json body{{"tasks", std::move(items)}};
  body["next_cursor"] = more && last ? nlohmann::json("t" + std::to_string(*last)) : nullptr;
  return {200, std::move(body)};
}

Reply TaskService::get(const std::string& id) const {
  Reply reply;
  TaskPtr task = lookup(id, reply);
  if (!task) return reply;
  if (options_.read_cache == nullptr || !api::is_final(task->state) ||
      api::parse_task_ref(id)->step) {
    return {200, task->full_json()};
  }
  auto body = std::make_shared<const std::string>(
      task->full_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  options_.read_cache->put(task->seq, body);
  return Reply::serialized(std::move(body));
}

std::optional<Reply> TaskService::finished_or_subscribe(const std::string& id,
                                                        std::shared_ptr<api::TaskWaiter> waiter) {
  Reply reply;
  TaskPtr task = lookup(id, reply);
  if (!task) return reply;
  if (api::is_final(task->state)) return Reply{200, task->full_json()};
  waiters_[task->seq].push_back(std::move(waiter));
  return std::nullopt;
}

bool TaskService::drop_waiter(const std::string& id,
                              const std::shared_ptr<api::TaskWaiter>& waiter) {
  const std::optional<api::TaskRef> ref = api::parse_task_ref(id);
  if (!ref) return false;
  const auto it = waiters_.find(ref->seq);
  if (it == waiters_.end()) return false;
  std::vector<std::shared_ptr<api::TaskWaiter>>& list = it->second;
  const auto found = std::find(list.begin(), list.end(), waiter);
  if (found == list.end()) return false;
  list.erase(found);
  if (list.empty()) waiters_.erase(it);
  return true;
}

Reply TaskService::cancel(const std::string& id) {
  Reply reply;
  TaskPtr task = lookup(id, reply);
  if (!task) return reply;
  const std::optional<std::size_t> step = api::parse_task_ref(id)->step;
  if (task->state == State::pending && !step) {
    finish_pending(*task, State::cancelled, {"CancelledError", "cancelled while pending"});
    return {202, task->summary_json()};
  }
  const bool cancelled = step ? api::cancel_step(*task, *step) : api::cancel_task(*task);
  if (!cancelled) return api::error_reply(409, "conflict", id + " is not running");
  return {202, task->summary_json()};
}

Reply TaskService::set_timeout(const std::string& id, double timeout_s) {
  Reply reply;
  TaskPtr task = lookup(id, reply);
  if (!task) return reply;
  if (api::parse_task_ref(id)->step) {
    return api::error_reply(400, "invalid_request", "timeouts apply to whole tasks");
  }
  if (api::is_final(task->state)) return api::error_reply(409, "conflict", id + " has finished");
  api::set_task_timeout(
      task, uasyncio::detail::seconds_to_ms(timeout_s), [this](api::TaskRecord& t) {
        finish_pending(t, State::timed_out, {"TimeoutError", "the task's timeout expired"});
      });
  return {202, task->summary_json()};
}

Reply TaskService::remove(const std::string& id) {
  Reply reply;
  TaskPtr task = lookup(id, reply);
  if (!task) return reply;
  if (api::parse_task_ref(id)->step) {
    return api::error_reply(400, "invalid_request", "steps cannot be deleted, only tasks");
  }
  if (!api::is_final(task->state)) {
    return api::error_reply(409, "conflict", id + " has not finished");
  }
  forget(task->seq);
  if (options_.journal != nullptr) options_.journal->erased(task->seq);
  --counts_[task->state];
  return {200, {{"id", task->id}, {"deleted", true}}};
}

nlohmann::json TaskService::stats() const {
  nlohmann::json states = nlohmann::json::object();
  for (State s : api::kAllStates) {
    auto it = counts_.find(s);
    states[api::state_name(s)] = it == counts_.end() ? 0 : it->second;
  }
  return {{"tasks", std::move(states)},
          {"submitted_total", submitted_},
          {"retained", registry_->size()}};
}

std::string TaskService::metrics() const {
  std::ostringstream out;
  out << "# HELP uasyncd_tasks Tasks known to the daemon, by state.\n"
      << "# TYPE uasyncd_tasks gauge\n";
  for (State s : api::kAllStates) {
    auto it = counts_.find(s);
    out << "uasyncd_tasks{state=\"" << api::state_name(s) << "\"} "
        << (it == counts_.end() ? 0 : it->second) << "\n";
  }
  out << "# HELP uasyncd_tasks_submitted_total Tasks submitted since start.\n"
      << "# TYPE uasyncd_tasks_submitted_total counter\n"
      << "uasyncd_tasks_submitted_total " << submitted_ << "\n";
  return out.str();
}

void TaskService::task_started(api::TaskRecord& task) {
  ++task.attempts;
  journal_now(task);
  count(State::pending, State::running);
  ++running_;
  transition(task, "started");
}

void TaskService::task_finished(api::TaskRecord& task) {
  --running_;
  count(State::running, task.state);
  if (!retry_later(task)) finished(task);
  start_pending();
}

void TaskService::start_pending() {
  const std::int64_t now = uasyncio::ticks_ms();
  for (auto it = pending_.begin();
       it != pending_.end() && (options_.max_running == 0 || running_ < options_.max_running);) {
    if ((*it)->retry_at_ms > now) {  // a retry still in its backoff
      ++it;
      continue;
    }
    TaskPtr next = std::move(*it);
    it = pending_.erase(it);
    api::start_task(next);
  }
}

void TaskService::finish_pending(api::TaskRecord& task, State state, api::ErrorInfo error) {
  auto it = std::find_if(pending_.begin(), pending_.end(),
                         [&](const TaskPtr& p) { return p.get() == &task; });
  if (it == pending_.end()) return;
  TaskPtr keep = std::move(*it);
  pending_.erase(it);
  task.finish_unstarted(state, std::move(error));
  // The watcher itself may be what expired the task; a task cannot cancel itself.
  if (task.timeout_watch && !task.timeout_watch.done() &&
      task.timeout_watch.header() != uasyncio::detail::current_loop().current()) {
    task.timeout_watch.cancel();
  }
  task.timeout_watch = uasyncio::AnyTask();
  count(State::pending, state);
  finished(task);
}

void TaskService::finished(api::TaskRecord& task) {
  transition(task, "finished");
  end_followers(task);
  journal_now(task);
  if (auto it = waiters_.find(task.seq); it != waiters_.end()) {
    // Serialized once for every waiter. Taken out of the map first: an answer may end a wait.
    const Reply reply = Reply::serialized(std::make_shared<const std::string>(
        task.full_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
    const std::vector<std::shared_ptr<api::TaskWaiter>> waiting = std::move(it->second);
    waiters_.erase(it);
    for (const auto& w : waiting)
      w->answer(reply);
  }
  finished_order_.push_back(task.seq);
  evict_finished();
}

void TaskService::evict_finished() {
  std::size_t retained = 0;
  for (State s : api::kAllStates) {
    if (api::is_final(s)) retained += counts_[s];
  }
  while (retained > options_.keep_finished && !finished_order_.empty()) {
    const std::uint64_t oldest = finished_order_.front();
    finished_order_.pop_front();
    TaskPtr victim = registry_->find(oldest);
    if (!victim) continue;  // already deleted
    forget(oldest);
    if (options_.journal != nullptr) options_.journal->erased(oldest);
    --counts_[victim->state];
    --retained;
  }
}

void TaskService::forget(std::uint64_t seq) {
  registry_->erase(seq);
  if (options_.read_cache != nullptr) options_.read_cache->erase(seq);
}

void TaskService::cancel_all() {
  while (!pending_.empty()) {
    finish_pending(*pending_.front(), State::cancelled, {"CancelledError", "daemon shutdown"});
  }
  registry_->visit_newest_first(std::nullopt, [](const TaskPtr& t) {
    if (t->state == State::running) api::cancel_task(*t);
    return true;
  });
}

void TaskService::release_all() {
  flush_journal();  // the writer outlives the loop: what the last turns changed is still stored
  registry_->visit_newest_first(std::nullopt, [](const TaskPtr& t) {
    api::kill_running_execs(*t);
    t->task = uasyncio::Task<void>();
    t->timeout_watch = uasyncio::AnyTask();
    for (api::StepRecord& s : t->steps)
      s.task = uasyncio::AnyTask();
    return true;
  });
  pending_.clear();
}

void TaskService::transition(const api::TaskRecord& task, const char* type) {
  spdlog::debug("task {} {}: {}", task.id, type, api::state_name(task.state));
  if (options_.events == nullptr || !options_.events->active()) return;
  nlohmann::json event{{"type", type},
                       {"id", task.id},
                       {"name", task.name()},
                       {"kind", api::kind_name(task.spec.root.kind)},
                       {"state", api::state_name(task.state)},
                       {"time", static_cast<double>(api::wall_ms()) / 1000.0}};
  if (task.error) event["error"] = {{"type", task.error->type}, {"message", task.error->message}};
  options_.events->publish(event);
}

void TaskService::journal_later(const api::TaskRecord& task, bool with_output) {
  if (options_.journal == nullptr) return;
  bool& output = unjournaled_[task.seq];
  output = output || with_output;
  if (flush_queued_) return;
  flush_queued_ = true;
  uasyncio::create_task(flush_journal_soon(this));
}

void TaskService::journal_now(const api::TaskRecord& task) {
  if (options_.journal == nullptr) return;
  bool with_output = false;
  if (auto it = unjournaled_.find(task.seq); it != unjournaled_.end()) {
    with_output = it->second;
    unjournaled_.erase(it);
  }
  options_.journal->changed(task, with_output);
}

void TaskService::flush_journal() {
  flush_queued_ = false;
  if (options_.journal == nullptr) return;
  for (const auto& [seq, with_output] : unjournaled_) {
    // Gone (deleted or evicted) since: its erase is journaled already.
    if (TaskPtr task = registry_->find(seq)) options_.journal->changed(*task, with_output);
  }
  unjournaled_.clear();
}

uasyncio::Coro<void> TaskService::flush_journal_soon(TaskService* self) {
  // A short wait gathers many changes per snapshot, and a task that ends within it costs no
  // extra row at all (its end is journaled at once, with the steps): step progress is stored at
  // most this late, which only a crash in between could show.
  constexpr std::int64_t kStepFlushMs = 50;
  co_await uasyncio::sleep_ms(kStepFlushMs);
  self->flush_journal();
}

void TaskService::step_changed(api::TaskRecord& task, std::size_t index) {
  const api::StepRecord& s = task.steps[index];
  journal_later(task, s.step->kind == api::StepKind::exec && api::is_final(s.state));
  spdlog::trace("step {} {}", task.step_id(index), api::state_name(s.state));
  // A step that ends after its task (none should) must not leave a stale body behind.
  if (api::is_final(task.state) && options_.read_cache != nullptr) {
    options_.read_cache->erase(task.seq);
  }
  if (options_.events == nullptr || !options_.events->active()) return;
  options_.events->publish({{"type", "step"},
                            {"id", task.id},
                            {"step", task.step_id(index)},
                            {"kind", api::kind_name(s.step->kind)},
                            {"name", s.step->name},
                            {"state", api::state_name(s.state)},
                            {"time", static_cast<double>(api::wall_ms()) / 1000.0}});
}

namespace {

std::string output_frame(const api::TaskRecord& task, std::size_t index, bool is_stderr,
                         std::string_view data) {
  return api::sse_frame(
      "output",
      {{"step", task.step_id(index)}, {"stream", is_stderr ? "stderr" : "stdout"}, {"data", data}});
}

// The exec steps a request for `ref` covers: all of the task's, or the one step named.
std::vector<std::size_t> exec_steps(const api::TaskRecord& task, std::optional<std::size_t> step) {
  std::vector<std::size_t> out;
  for (const api::StepRecord& s : task.steps) {
    if (s.step->kind == api::StepKind::exec && (!step || *step == s.index)) out.push_back(s.index);
  }
  return out;
}

}  // namespace

void TaskService::step_output(api::TaskRecord& task, std::size_t index, bool is_stderr,
                              std::string_view data) {
  auto it = followers_.find(task.seq);
  if (it == followers_.end()) return;
  const std::string frame = output_frame(task, index, is_stderr, data);
  std::erase_if(it->second, [&](const Follower& f) {
    return (!f.step || *f.step == index) && !f.channel->push(frame);
  });
  if (it->second.empty()) followers_.erase(it);
}

void TaskService::end_followers(const api::TaskRecord& task) {
  auto it = followers_.find(task.seq);
  if (it == followers_.end()) return;
  const std::string frame =
      api::sse_frame("end", {{"id", task.id}, {"state", api::state_name(task.state)}});
  for (const Follower& f : it->second) {
    f.channel->push(frame);
    f.channel->close();
  }
  followers_.erase(it);
}

TaskPtr TaskService::lookup_output(const std::string& id, Reply& refused,
                                   std::optional<std::size_t>& step) const {
  TaskPtr task = lookup(id, refused);
  if (!task) return nullptr;
  step = api::parse_task_ref(id)->step;
  if (step && task->steps[*step].step->kind != api::StepKind::exec) {
    refused = api::error_reply(400, "invalid_request", id + " is not an exec step");
    return nullptr;
  }
  return task;
}

Reply TaskService::output(const std::string& id) const {
  Reply reply;
  std::optional<std::size_t> step;
  TaskPtr task = lookup_output(id, reply, step);
  if (!task) return reply;
  nlohmann::json steps = nlohmann::json::array();
  for (std::size_t index : exec_steps(*task, step)) {
    const api::StepRecord& s = task->steps[index];
    nlohmann::json j = s.exec ? s.exec->output_json() : nlohmann::json::object();
    j["id"] = task->step_id(index);
    j["argv"] = s.step->argv;
    j["state"] = api::state_name(s.state);
    steps.push_back(std::move(j));
  }
  return {200, {{"id", task->id}, {"state", api::state_name(task->state)}, {"steps", steps}}};
}

Reply TaskService::follow_output(const std::string& id, std::shared_ptr<api::SseChannel> channel) {
  Reply reply;
  std::optional<std::size_t> step;
  TaskPtr task = lookup_output(id, reply, step);
  if (!task) return reply;
  // What was passed on so far, then (registered in the same loop turn) what comes: no gap.
  for (std::size_t index : exec_steps(*task, step)) {
    const api::StepRecord& s = task->steps[index];
    if (!s.exec) continue;
    for (bool is_stderr : {false, true}) {
      const api::StreamCapture& cap = s.exec->stream(is_stderr);
      if (cap.published == 0) continue;
      channel->push(output_frame(*task, index, is_stderr,
                                 std::string_view(cap.kept()).substr(0, cap.published)));
    }
  }
  if (api::is_final(task->state)) {
    channel->push(
        api::sse_frame("end", {{"id", task->id}, {"state", api::state_name(task->state)}}));
    channel->close();
  } else {
    followers_[task->seq].push_back({std::move(channel), step});
  }
  return {200, nlohmann::json::object()};
}

}  // namespace uasyncd::server
