// What the daemon knows about a submitted task and each of its steps. Lives on the loop
// thread only; HTTP threads see it as JSON rendered there.
#pragma once

#include <nlohmann/json.hpp>
#include <uasyncio/uasyncio.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "uasyncd/api/exec_output.hpp"
#include "uasyncd/api/spec.hpp"

namespace uasyncd::api {

// interrupted: the daemon stopped (a crash, a kill) while the task ran; found so at restart.
enum class State { pending, running, done, failed, cancelled, timed_out, interrupted };
inline constexpr State kAllStates[] = {State::pending,    State::running,   State::done,
                                       State::failed,     State::cancelled, State::timed_out,
                                       State::interrupted};

const char* state_name(State s);
std::optional<State> parse_state(std::string_view name);
inline bool is_final(State s) {
  return s != State::pending && s != State::running;
}

struct ErrorInfo {
  std::string type;
  std::string message;
};

// What an exception means for a step or a task: its final state and its {type, message}.
State state_of_error(const std::exception_ptr& e);
ErrorInfo describe(const std::exception_ptr& e);

// Milliseconds since the Unix epoch (wall clock, for display).
std::int64_t wall_ms();

struct StepRecord {
  const Step* step = nullptr;
  std::size_t index = 0;  // preorder position: the step's id is "<task-id>.<index>"
  std::vector<std::size_t> children;
  State state = State::pending;
  uasyncio::AnyTask task;  // the uasyncio task running this step, while it may run
  nlohmann::json result;
  std::optional<ErrorInfo> error;
  std::int64_t started_ms = 0;
  std::int64_t finished_ms = 0;
  std::unique_ptr<ExecOutput> exec;  // exec steps, once their process started
};

class TaskRecord;

// Told about a task's transitions (the service keeps its counters and queues with it).
class TaskObserver {
 public:
  virtual ~TaskObserver() = default;
  virtual void task_started(TaskRecord& task) = 0;
  virtual void task_finished(TaskRecord& task) = 0;
  // A step started or ended (its state is already updated).
  virtual void step_changed(TaskRecord&, std::size_t /*index*/) {}
  // An exec step's process wrote `data` (the part kept under the cap) to stdout or stderr.
  virtual void step_output(TaskRecord&, std::size_t /*index*/, bool /*is_stderr*/,
                           std::string_view /*data*/) {}
};

class TaskRecord {
 public:
  TaskRecord(std::uint64_t seq, Spec spec, nlohmann::json spec_json);
  TaskRecord(const TaskRecord&) = delete;
  TaskRecord& operator=(const TaskRecord&) = delete;

  std::uint64_t seq;
  std::string id;
  Spec spec;
  nlohmann::json spec_json;
  State state = State::pending;
  std::vector<StepRecord> steps;  // preorder; fixed once built, so references stay valid
  uasyncio::Task<void> task;
  nlohmann::json result;
  std::optional<ErrorInfo> error;
  std::int64_t created_ms = 0;
  std::int64_t started_ms = 0;
  std::int64_t finished_ms = 0;
  int attempts = 0;              // runs started so far (a retry or a restart may run it again)
  std::int64_t retry_at_ms = 0;  // loop time before which a retried task waits as pending
  bool timing_out = false;       // set by a POST .../timeout that fired: a cancel means timed_out
  uasyncio::AnyTask timeout_watch;
  TaskObserver* observer = nullptr;
  // How long a cancelled exec step's process group gets between SIGTERM and SIGKILL.
  std::int64_t exec_kill_grace_ms = 5000;

  const std::string& name() const { return spec.root.name; }
  std::string step_id(std::size_t index) const { return id + "." + std::to_string(index); }

  // Ends a task that never ran (cancelled or timed out while pending).
  void finish_unstarted(State final_state, ErrorInfo error);

  nlohmann::json summary_json() const;
  nlohmann::json full_json() const;

 private:
  std::size_t add_steps(const Step& step);
  nlohmann::json step_json(std::size_t index) const;
};

}  // namespace uasyncd::api
