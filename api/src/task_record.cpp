#include "uasyncd/api/task_record.hpp"

#include <chrono>
#include <string>
#include <string_view>
#include <utility>

namespace uasyncd::api {
namespace {

nlohmann::json time_json(std::int64_t ms) {
  if (ms == 0) return nullptr;
  return static_cast<double>(ms) / 1000.0;
}

nlohmann::json error_json(const std::optional<ErrorInfo>& e) {
  if (!e) return nullptr;
  return {{"type", e->type}, {"message", e->message}};
}

}  // namespace

const char* state_name(State s) {
  switch (s) {
    case State::pending:
      return "pending";
    case State::running:
      return "running";
    case State::done:
      return "done";
    case State::failed:
      return "failed";
    case State::cancelled:
      return "cancelled";
    case State::timed_out:
      return "timed_out";
    case State::interrupted:
      return "interrupted";
  }
  return "?";
}

std::optional<State> parse_state(std::string_view name) {
  for (State s : kAllStates) {
    if (name == state_name(s)) return s;
  }
  return std::nullopt;
}

State state_of_error(const std::exception_ptr& e) {
  const uasyncio::ErrorClass error = uasyncio::classify(e);
  if (error.kind == uasyncio::ErrorKind::none) return State::done;
  if (error.kind == uasyncio::ErrorKind::cancelled) return State::cancelled;
  return std::string_view(error.name) == "TimeoutError" ? State::timed_out : State::failed;
}

ErrorInfo describe(const std::exception_ptr& e) {
  const uasyncio::ErrorClass error = uasyncio::classify(e);
  if (error.kind == uasyncio::ErrorKind::other) return {"Exception", "unknown error"};
  return {error.name, std::string(error.message())};
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TaskRecord::TaskRecord(std::uint64_t s, Spec sp, nlohmann::json sj)
    : seq(s),
      id("t" + std::to_string(s)),
      spec(std::move(sp)),
      spec_json(std::move(sj)),
      created_ms(wall_ms()) {
  steps.reserve(spec.steps);
  add_steps(spec.root);
}

std::size_t TaskRecord::add_steps(const Step& step) {
  const std::size_t index = steps.size();
  steps.emplace_back();
  steps[index].step = &step;
  steps[index].index = index;
  for (const Step& child : step.children) {
    const std::size_t c = add_steps(child);
    steps[index].children.push_back(c);
  }
  return index;
}

void TaskRecord::finish_unstarted(State final_state, ErrorInfo e) {
  state = final_state;
  error = std::move(e);
  finished_ms = wall_ms();
  for (StepRecord& s : steps)
    s.state = State::cancelled;
}

nlohmann::json TaskRecord::summary_json() const {
  nlohmann::json j{{"id", id},
                   {"name", name()},
                   {"kind", kind_name(spec.root.kind)},
                   {"state", state_name(state)},
                   {"attempts", attempts},
                   {"created", time_json(created_ms)},
                   {"started", time_json(started_ms)},
                   {"finished", time_json(finished_ms)}};
  j["duration"] = started_ms != 0 && finished_ms != 0
                      ? nlohmann::json(static_cast<double>(finished_ms - started_ms) / 1000.0)
                      : nlohmann::json(nullptr);
  if (is_final(state)) {
    j["result"] = result;
    j["error"] = error_json(error);
  }
  return j;
}

nlohmann::json TaskRecord::full_json() const {
  nlohmann::json j = summary_json();
  j["spec"] = spec_json;
  j["steps"] = step_json(0);
  return j;
}

nlohmann::json TaskRecord::step_json(std::size_t index) const {
  const StepRecord& s = steps[index];
  nlohmann::json j{{"id", step_id(index)},
                   {"kind", kind_name(s.step->kind)},
                   {"name", s.step->name},
                   {"state", state_name(s.state)}};
  if (is_final(s.state)) {
    j["result"] = s.result;
    j["error"] = error_json(s.error);
  }
  if (!s.children.empty()) {
    nlohmann::json children = nlohmann::json::array();
    for (std::size_t c : s.children)
      children.push_back(step_json(c));
    j["steps"] = std::move(children);
  }
  return j;
}

}  // namespace uasyncd::api
