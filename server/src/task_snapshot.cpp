#include "uasyncd/server/task_snapshot.hpp"

#include <nlohmann/json.hpp>

#include <utility>

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

StoredTask snapshot(const api::TaskRecord& task, bool with_spec) {
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
    row.steps = steps_text(task);
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
    if (api::is_final(*state) && !row.steps.empty()) apply_steps(*task, row.steps);
    return task;
  } catch (const std::exception& e) {  // json parse or type errors in a damaged row
    why = e.what();
    return nullptr;
  }
}

}  // namespace uasyncd::server
