#include "uasyncd/runner/job_runner.hpp"

#include <exception>
#include <stdexcept>
#include <utility>
#include <vector>

#include "exec_step.hpp"
#include "run.hpp"

namespace uasyncd::server {
namespace {

namespace ua = uasyncio;
using nlohmann::json;
using RunPtr = std::shared_ptr<JobRunner::Run>;

// A `fail` step's exception (Python's `raise Exception(msg)`).
class StepFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
// clang 14 does not deduce an aggregate's template arguments by itself (P1816).
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

json outcome_json(const ua::Outcome<json>& o) {
  if (o.has_value()) return o.value();
  const ErrorInfo e = describe(o.exception());
  return {{"error", {{"type", e.type}, {"message", e.message}}}};
}

ua::Coro<json> run_step(RunPtr run, std::size_t index);

ua::Task<json> spawn_step(const RunPtr& run, std::size_t index) {
  ua::Task<json> t = ua::create_task(run_step(run, index));
  run->steps[index] = t;
  return t;
}

ua::Coro<json> run_sequence(RunPtr run, std::size_t index) {
  json result;
  for (std::size_t child : run->job->step(index).children())
    result = co_await spawn_step(run, child);
  co_return result;
}

ua::Coro<json> run_gather(RunPtr run, std::size_t index, bool return_exceptions) {
  std::vector<ua::Task<json>> children;
  for (std::size_t child : run->job->step(index).children())
    children.push_back(spawn_step(run, child));
  json result = json::array();
  if (return_exceptions) {
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

ua::Coro<json> run_wait_for(RunPtr run, std::size_t index, double seconds) {
  co_return co_await ua::wait_for(spawn_step(run, run->job->step(index).children()[0]), seconds);
}

ua::Coro<json> run_wait_for_ms(RunPtr run, std::size_t index, std::int64_t ms) {
  co_return co_await ua::wait_for_ms(spawn_step(run, run->job->step(index).children()[0]), ms);
}

ua::Coro<json> run_sleep(double seconds) {
  co_await ua::sleep(seconds);
  co_return json(nullptr);
}

ua::Coro<json> run_sleep_ms(std::int64_t ms) {
  co_await ua::sleep_ms(ms);
  co_return json(nullptr);
}

ua::Coro<json> return_value(json value) {
  co_return value;
}

ua::Coro<json> raise(std::string message) {
  throw StepFailure(message);
  co_return json();
}

// What a step of each kind runs.
ua::Coro<json> run_body(const RunPtr& run, std::size_t index) {
  return std::visit(
      Overloaded{
          [](const SleepStep& k) { return run_sleep(k.seconds); },
          [](const SleepMsStep& k) { return run_sleep_ms(k.ms); },
          [](const ValueStep& k) { return return_value(k.value); },
          [](const FailStep& k) { return raise(k.message); },
          [&](const SequenceStep&) { return run_sequence(run, index); },
          [&](const GatherStep& k) { return run_gather(run, index, k.return_exceptions); },
          [&](const WaitForStep& k) { return run_wait_for(run, index, k.seconds); },
          [&](const WaitForMsStep& k) { return run_wait_for_ms(run, index, k.ms); },
          [&](const ExecStep&) { return run_exec(run, index); },
      },
      run->job->step(index).spec().kind);
}

// The result a failed step still shows (an exec step's exit code and output), or null.
json result_of_failure(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const ExecFailure& e) {
    return e.result;
  } catch (...) {  // NOLINT: any other failure has no result
  }
  return json();
}

ua::Coro<json> run_step(RunPtr run, std::size_t index) {
  Job& job = *run->job;
  job.start_step(index, wall_ms());
  if (run->hooks->step_changed) run->hooks->step_changed(job, index);
  std::exception_ptr error;
  json result;
  try {
    result = co_await run_body(run, index);
  } catch (...) {  // NOLINT: every outcome is recorded, then passed on unchanged
    error = std::current_exception();
  }
  if (error) {
    job.finish_step(index, state_of_error(error), result_of_failure(error), describe(error),
                    wall_ms());
  } else {
    job.finish_step(index, JobState::done, result, std::nullopt, wall_ms());
  }
  if (run->hooks->step_changed) run->hooks->step_changed(job, index);
  if (error) std::rethrow_exception(error);
  co_return result;
}

// Once the job's outcome is known, nothing of it may keep running, and nothing may be reported
// before every step has reached its final state: steps left behind (a gather that raised leaves
// its other children running, §10.7; a cancelled wait_for leaves its inner step to unwind, §9.7)
// are cancelled, then awaited. Bounded without a timer: a cancelled step ends at its next await,
// an exec step once its group is killed (the kill grace, then SIGKILL and a reap).
ua::Coro<void> settle_steps(RunPtr run) {
  std::vector<bool> cancelled(run->steps.size(), false);
  for (;;) {
    bool running = false;
    for (std::size_t i = 0; i < run->steps.size(); ++i) {
      const ua::Task<json>& t = run->steps[i];
      if (!t || t.done()) continue;
      running = true;
      if (!cancelled[i]) {  // once: a second cancel would cut an exec step's kill grace short
        cancelled[i] = true;
        t.cancel();
      }
    }
    if (!running) co_return;
    // Preorder: a parent is awaited before its children, so a child is no longer held by a
    // gather (which could not be awaited, §7.3) once its turn comes.
    for (std::size_t i = 0; i < run->steps.size(); ++i) {
      ua::Task<json> t = run->steps[i];
      if (!t || t.done()) continue;
      bool held = false;
      try {
        co_await t;
      } catch (const ua::RuntimeError&) {  // still in a gather that is ending: look again soon
        held = true;
      } catch (...) {  // NOLINT: the step's outcome is its own; a cancel of the job changes
      }                // nothing now: the settling goes on
      if (held) {
        try {
          co_await ua::sleep_ms(1);
        } catch (...) {  // NOLINT: a cancel of the job changes nothing now
        }
      }
      break;
    }
  }
}

// Every handle is dropped so the frames, which hold the run, can go.
void release_steps(JobRunner::Run& run) {
  for (ua::Task<json>& t : run.steps) {
    if (t && !t.done()) t.cancel();
    t = ua::Task<json>();
  }
}

ua::Coro<void> run_root(RunPtr run, std::function<void(const RunPtr&)> ended) {
  Job& job = *run->job;
  run->entered = true;
  std::exception_ptr error;
  json result;
  try {
    if (run->cancelled_before_entry) {
      error = std::make_exception_ptr(ua::CancelledError());
    } else if (job.spec().timeout) {
      result = co_await ua::wait_for(spawn_step(run, 0), *job.spec().timeout);
    } else {
      result = co_await run_step(run, 0);
    }
  } catch (...) {  // NOLINT: the job's outcome is recorded, not raised into the loop
    error = std::current_exception();
  }
  co_await settle_steps(run);
  if (!error) {
    job.finish(JobState::done, std::move(result), std::nullopt, wall_ms());
  } else if (state_of_error(error) == JobState::cancelled && run->timing_out) {
    job.finish(JobState::timed_out, json(), ErrorInfo{"TimeoutError", "the task's timeout expired"},
               wall_ms());
  } else {
    job.finish(state_of_error(error), json(), describe(error), wall_ms());
  }
  release_steps(*run);
  ended(run);
}

}  // namespace

JobRunner::JobRunner(RunnerHooks hooks, std::int64_t exec_kill_grace_ms, bool allow_exec)
    : hooks_(std::move(hooks)), exec_kill_grace_ms_(exec_kill_grace_ms), allow_exec_(allow_exec) {}

JobRunner::~JobRunner() {
  abandon_all();
}

void JobRunner::start(std::shared_ptr<Job> job) {
  job->start(wall_ms());
  auto run = std::make_shared<Run>();
  run->job = std::move(job);
  run->hooks = &hooks_;
  run->exec_kill_grace_ms = exec_kill_grace_ms_;
  run->allow_exec = allow_exec_;
  run->steps.resize(run->job->steps().size());
  runs_[run->job->id()] = run;
  run->root = ua::create_task(run_root(run, [this](const RunPtr& r) { ended(r); }));
}

void JobRunner::ended(const std::shared_ptr<Run>& run) {
  run->ended = true;
  run->root = ua::Task<void>();
  std::shared_ptr<Job> job = run->job;
  runs_.erase(job->id());
  if (hooks_.finished) hooks_.finished(*job);
}

bool JobRunner::cancel(std::uint64_t id) {
  auto it = runs_.find(id);
  if (it == runs_.end() || !it->second->root || it->second->root.done()) return false;
  if (!it->second->entered) {
    it->second->cancelled_before_entry = true;
    return true;
  }
  return it->second->root.cancel();
}

bool JobRunner::cancel_step(std::uint64_t id, std::size_t index) {
  auto it = runs_.find(id);
  if (it == runs_.end() || index >= it->second->steps.size()) return false;
  Run& run = *it->second;
  if (is_final(run.job->step(index).state())) return false;
  if (index == 0 && !run.entered) return cancel(id);  // the root step is the job, not begun yet
  // The root step without a task of its own runs inside the job's task.
  const ua::AnyTask t = run.steps[index] ? ua::AnyTask(run.steps[index])
                        : index == 0     ? ua::AnyTask(run.root)
                                         : ua::AnyTask();
  if (!t || t.done()) return false;
  return t.cancel();
}

bool JobRunner::time_out(std::uint64_t id) {
  auto it = runs_.find(id);
  if (it == runs_.end()) return false;
  it->second->timing_out = true;
  return cancel(id);
}

void JobRunner::abandon_all() {
  for (auto& [id, run] : runs_) {
    kill_running_execs(*run->job);
    run->root = ua::Task<void>();
    for (ua::Task<json>& t : run->steps)
      t = ua::Task<json>();
  }
  runs_.clear();
}

}  // namespace uasyncd::server
