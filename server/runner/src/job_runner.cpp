#include "uasyncd/api/engine.hpp"

#include <exception>
#include <stdexcept>
#include <utility>
#include <vector>

#include "exec_step.hpp"

namespace uasyncd::api {
namespace {

namespace ua = uasyncio;
using nlohmann::json;
using TaskPtr = std::shared_ptr<TaskRecord>;

// A `fail` step's exception (Python's `raise Exception(msg)`).
class StepFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

json outcome_json(const ua::Outcome<json>& o) {
  if (o.has_value()) return o.value();
  const ErrorInfo e = describe(o.exception());
  return {{"error", {{"type", e.type}, {"message", e.message}}}};
}

ua::Coro<json> run_step(TaskPtr task, std::size_t index);

ua::Task<json> spawn_step(const TaskPtr& task, std::size_t index) {
  ua::Task<json> t = ua::create_task(run_step(task, index));
  task->steps[index].task = t;
  return t;
}

ua::Coro<json> run_children(TaskPtr task, std::size_t index) {
  StepRecord& s = task->steps[index];
  const Step& step = *s.step;
  switch (step.kind) {
    case StepKind::sequence: {
      json result;
      for (std::size_t child : s.children)
        result = co_await spawn_step(task, child);
      co_return result;
    }
    case StepKind::gather: {
      std::vector<ua::Task<json>> children;
      for (std::size_t child : s.children)
        children.push_back(spawn_step(task, child));
      json result = json::array();
      if (step.return_exceptions) {
        std::vector<ua::Outcome<json>> outcomes =
            co_await ua::gather(ua::return_exceptions, std::move(children));
        for (const ua::Outcome<json>& o : outcomes)
          result.push_back(outcome_json(o));
      } else {
        std::vector<json> values = co_await ua::gather(std::move(children));
        for (json& v : values)
          result.push_back(std::move(v));
      }
      co_return result;
    }
    case StepKind::wait_for:
      co_return co_await ua::wait_for(spawn_step(task, s.children[0]), step.seconds);
    case StepKind::wait_for_ms:
      co_return co_await ua::wait_for_ms(spawn_step(task, s.children[0]), step.ms);
    default:
      throw ua::RuntimeError("not a compound step");
  }
}

ua::Coro<json> run_body(TaskPtr task, std::size_t index) {
  const Step& step = *task->steps[index].step;
  switch (step.kind) {
    case StepKind::sleep:
      co_await ua::sleep(step.seconds);
      co_return json(nullptr);
    case StepKind::sleep_ms:
      co_await ua::sleep_ms(step.ms);
      co_return json(nullptr);
    case StepKind::value:
      co_return step.value;
    case StepKind::fail:
      throw StepFailure(step.message);
    case StepKind::exec:
      co_return co_await run_exec(std::move(task), index);
    default:
      co_return co_await run_children(std::move(task), index);
  }
}

ua::Coro<json> run_step(TaskPtr task, std::size_t index) {
  {
    StepRecord& s = task->steps[index];
    s.state = State::running;
    s.started_ms = wall_ms();
  }
  if (task->observer != nullptr) task->observer->step_changed(*task, index);
  std::exception_ptr error;
  json result;
  try {
    result = co_await run_body(task, index);
  } catch (...) {  // NOLINT: every outcome is recorded, then passed on unchanged
    error = std::current_exception();
  }
  StepRecord& s = task->steps[index];
  s.finished_ms = wall_ms();
  s.state = state_of_error(error);
  if (error) {
    s.error = describe(error);
  } else {
    s.result = result;
  }
  if (task->observer != nullptr) task->observer->step_changed(*task, index);
  if (error) std::rethrow_exception(error);
  co_return result;
}

// Once the task has ended nothing of it may keep running: steps left behind (a gather that
// raised leaves its other children running, §10.7) are cancelled, and every handle is dropped
// so the frames, which hold the record, can go.
void release_steps(TaskRecord& task) {
  ua::AnyTask self = ua::current_task();
  for (StepRecord& s : task.steps) {
    if (s.task && !s.task.done() && !(s.task == self)) s.task.cancel();
    s.task = ua::AnyTask();
  }
  if (task.timeout_watch && !task.timeout_watch.done()) task.timeout_watch.cancel();
  task.timeout_watch = ua::AnyTask();
}

ua::Coro<void> run_root(TaskPtr task) {
  std::exception_ptr error;
  json result;
  try {
    if (task->spec.timeout) {
      result = co_await ua::wait_for(spawn_step(task, 0), *task->spec.timeout);
    } else {
      task->steps[0].task = ua::current_task();
      result = co_await run_step(task, 0);
    }
  } catch (...) {  // NOLINT: the task's outcome is recorded, not raised into the loop
    error = std::current_exception();
  }
  task->finished_ms = wall_ms();
  task->state = state_of_error(error);
  if (error) {
    task->error = describe(error);
    if (task->state == State::cancelled && task->timing_out) {
      task->state = State::timed_out;
      task->error = ErrorInfo{"TimeoutError", "the task's timeout expired"};
    }
  } else {
    task->result = std::move(result);
  }
  release_steps(*task);
  task->task = ua::Task<void>();
  if (task->observer != nullptr) task->observer->task_finished(*task);
}

ua::Coro<void> watch_timeout(TaskPtr task, std::int64_t ms,
                             std::function<void(TaskRecord&)> on_pending_expiry) {
  co_await ua::sleep_ms(ms);
  if (task->state == State::pending) {
    task->timeout_watch = ua::AnyTask();
    on_pending_expiry(*task);
  } else if (task->state == State::running && task->task) {
    task->timing_out = true;
    task->task.cancel();
  }
}

}  // namespace

void start_task(const std::shared_ptr<TaskRecord>& task) {
  task->state = State::running;
  task->started_ms = wall_ms();
  task->task = ua::create_task(run_root(task));
  if (task->observer != nullptr) task->observer->task_started(*task);
}

bool cancel_task(TaskRecord& task) {
  if (task.state != State::running || !task.task || task.task.done()) return false;
  return task.task.cancel();
}

bool cancel_step(TaskRecord& task, std::size_t index) {
  if (index >= task.steps.size()) return false;
  StepRecord& s = task.steps[index];
  if (is_final(s.state) || !s.task || s.task.done()) return false;
  return s.task.cancel();
}

void set_task_timeout(const std::shared_ptr<TaskRecord>& task, std::int64_t ms,
                      std::function<void(TaskRecord&)> on_pending_expiry) {
  if (task->timeout_watch && !task->timeout_watch.done()) task->timeout_watch.cancel();
  task->timeout_watch = ua::create_task(watch_timeout(task, ms, std::move(on_pending_expiry)));
}

}  // namespace uasyncd::api
