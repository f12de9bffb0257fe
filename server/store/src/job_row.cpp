#include "uasyncd/server/task_snapshot.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace uasyncd::server {
namespace {

using nlohmann::json;

// Per step, in preorder: [state, result, error type or null, error message, started, finished].
std::string steps_text(const api::TaskRecord& task) {
  json steps = json::array();
  for (const api::StepRecord& s : task.steps) {
    json e = s.error ? json(s.error->type) : json(nullptr);
    steps.push_back(
        json::array({api::state_name(s.state), s.result, std::move(e),
                     s.error ? s.error->message : std::string(), s.started_ms, s.finished_ms}));
  }
  return steps.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool all_pending(const api::TaskRecord& task) {
  return std::all_of(task.steps.begin(), task.steps.end(),
                     [](const api::StepRecord& s) { return s.state == api::State::pending; });
}

json capture_json(const api::StreamCapture& c) {
  // Untruncated, the tail is the end of what was kept: stored once.
  return json::array({c.kept(), c.truncated() ? json(c.tail()) : json(nullptr), c.bytes()});
}

void restore_capture(api::StreamCapture& c, const json& j) {
  std::string kept = j.at(0).get<std::string>();
  std::string tail = j.at(1).is_null()
                         ? kept.substr(kept.size() - std::min(kept.size(), api::kTailBytes))
                         : j.at(1).get<std::string>();
  c.restore(std::move(kept), std::move(tail), j.at(2).get<std::uint64_t>());
}

// The output of every exec step whose process has ended, as MessagePack: unlike JSON text it
// keeps bytes that are not UTF-8 as they were, so byte counts and truncation still agree.
// Per step: [index, pid, exit code or null, signal, stdout, stderr].
std::string outputs_blob(const api::TaskRecord& task) {
  json outputs = json::array();
  for (const api::StepRecord& s : task.steps) {
    if (!s.exec || s.exec->running) continue;
    const api::ExecOutput& e = *s.exec;
    outputs.push_back(json::array({s.index, e.pid, e.exit_code ? json(*e.exit_code) : json(nullptr),
                                   e.term_signal, capture_json(e.out), capture_json(e.err)}));
  }
  const std::vector<std::uint8_t> bytes = json::to_msgpack(outputs);
  return std::string(bytes.begin(), bytes.end());
}

void apply_outputs(api::TaskRecord& task, const std::string& blob) {
  const json outputs = json::from_msgpack(blob);
  for (const json& o : outputs) {
    const auto index = o.at(0).get<std::size_t>();
    if (index >= task.steps.size()) continue;
    auto e = std::make_unique<api::ExecOutput>();
    e->pid = o.at(1).get<int>();
    if (!o.at(2).is_null()) e->exit_code = o.at(2).get<int>();
    e->term_signal = o.at(3).get<int>();
    restore_capture(e->out, o.at(4));
    restore_capture(e->err, o.at(5));
    task.steps[index].exec = std::move(e);
  }
}

void apply_steps(api::TaskRecord& task, const std::string& text) {
  const json steps = json::parse(text);
  for (std::size_t i = 0; i < steps.size() && i < task.steps.size(); ++i) {
    const json& s = steps[i];
    api::StepRecord& step = task.steps[i];
    step.state = api::parse_state(s.at(0).get<std::string>()).value_or(api::State::interrupted);
    step.result = s.at(1);
    if (!s.at(2).is_null()) {
      step.error = api::ErrorInfo{s.at(2).get<std::string>(), s.at(3).get<std::string>()};
    }
    step.started_ms = s.at(4).get<std::int64_t>();
    step.finished_ms = s.at(5).get<std::int64_t>();
  }
}

}  // namespace

StoredTask snapshot(const api::TaskRecord& task, bool with_spec, bool with_output) {
  StoredTask row;
  row.seq = task.seq;
  if (with_spec) row.spec = task.spec_json.dump(-1, ' ', false, json::error_handler_t::replace);
  row.state = api::state_name(task.state);
  row.attempts = task.attempts;
  row.created_ms = task.created_ms;
  row.started_ms = task.started_ms;
  row.finished_ms = task.finished_ms;
  if (api::is_final(task.state)) {
    row.result = task.result.dump(-1, ' ', false, json::error_handler_t::replace);
    if (task.error) {
      row.error_type = task.error->type;
      row.error_message = task.error->message;
    }
  }
  // Steps are written at every change, so that a crash shows how far a running task got. All
  // pending (a new task, a retry's fresh record) is "[]", which an update writes over whatever a
  // previous run left; an insert needs nothing.
  if (!all_pending(task)) {
    row.steps = steps_text(task);
  } else if (!with_spec) {
    row.steps = "[]";
  }
  if (task.spec.uses_exec) {
    const bool any_output = std::any_of(task.steps.begin(), task.steps.end(),
                                        [](const api::StepRecord& s) { return s.exec != nullptr; });
    // Without new output the column is left as it is (an empty field is not written), unless
    // the record has none at all: then a previous run's output must not show through.
    if (with_output || !any_output) row.output = outputs_blob(task);
  }
  return row;
}

TaskPtr rebuild(const StoredTask& row, std::string& why) {
  try {
    json spec_json = json::parse(row.spec);
    api::ParsedSpec parsed = api::parse_spec(spec_json);
    if (!parsed) {
      why = "stored spec no longer valid: " + parsed.error.message;
      return nullptr;
    }
    const std::optional<api::State> state = api::parse_state(row.state);
    if (!state) {
      why = "unknown state " + row.state;
      return nullptr;
    }
    auto task =
        std::make_shared<api::TaskRecord>(row.seq, std::move(*parsed.spec), std::move(spec_json));
    task->state = *state;
    task->attempts = static_cast<int>(row.attempts);
    task->created_ms = row.created_ms;
    task->started_ms = row.started_ms;
    task->finished_ms = row.finished_ms;
    if (!row.result.empty()) task->result = json::parse(row.result);
    if (row.error_type) task->error = api::ErrorInfo{*row.error_type, row.error_message};
    if (!row.steps.empty()) apply_steps(*task, row.steps);
    if (!row.output.empty()) apply_outputs(*task, row.output);
    return task;
  } catch (const std::exception& e) {  // json parse or type errors in a damaged row
    why = e.what();
    return nullptr;
  }
}

}  // namespace uasyncd::server
