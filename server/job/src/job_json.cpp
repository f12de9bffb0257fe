#include "uasyncd/job/job_json.hpp"

#include <utility>

#include "uasyncd/job/job_id.hpp"

namespace uasyncd::server {
namespace {

using nlohmann::json;

json time_json(std::int64_t ms) {
  if (ms == 0) return nullptr;
  return static_cast<double>(ms) / 1000.0;
}

json step_json(const Job& job, std::size_t index) {
  const JobStep& s = job.step(index);
  json j{{"id", job.step_id(index)},
         {"kind", kind_name(s.spec().kind)},
         {"name", s.spec().name},
         {"state", state_name(s.state())}};
  if (is_final(s.state())) {
    j["result"] = s.result();
    j["error"] = error_json(s.error());
  }
  if (!s.children().empty()) {
    json children = json::array();
    for (std::size_t c : s.children())
      children.push_back(step_json(job, c));
    j["steps"] = std::move(children);
  }
  return j;
}

}  // namespace

json error_json(const std::optional<ErrorInfo>& e) {
  if (!e) return nullptr;
  return {{"type", e->type}, {"message", e->message}};
}

JobSummary summary_of(const Job& job) {
  JobSummary s;
  s.id = job.id();
  s.name = job.name();
  s.kind = kind_name(job.spec().root.kind);
  s.state = job.state();
  s.attempts = job.attempts();
  s.created_ms = job.created_ms();
  s.run_at_ms = job.run_at_ms();
  s.started_ms = job.started_ms();
  s.finished_ms = job.finished_ms();
  s.result = job.result();
  s.error = job.error();
  return s;
}

json summary_json(const JobSummary& s) {
  json j{{"id", job_id_text(s.id)},
         {"name", s.name},
         {"kind", s.kind},
         {"state", state_name(s.state)},
         {"attempts", s.attempts},
         {"created", time_json(s.created_ms)},
         {"run_at", time_json(s.run_at_ms)},
         {"started", time_json(s.started_ms)},
         {"finished", time_json(s.finished_ms)}};
  j["duration"] = s.started_ms != 0 && s.finished_ms != 0
                      ? json(static_cast<double>(s.finished_ms - s.started_ms) / 1000.0)
                      : json(nullptr);
  if (is_final(s.state)) {
    j["result"] = s.result;
    j["error"] = error_json(s.error);
  }
  return j;
}

json summary_json(const Job& job) {
  return summary_json(summary_of(job));
}

json full_json(const Job& job) {
  json j = summary_json(job);
  j["spec"] = job.spec_json();
  j["queue"] = job.spec().queue;
  if (!job.spec().schedule.empty()) j["schedule"] = job.spec().schedule;
  if (!job.idempotency_key().empty()) j["idempotency_key"] = job.idempotency_key();
  // When the restart that interrupted it found it: `finished` is when its run was last known
  // alive, which leaves the outage out of `duration`.
  if (job.interrupted_at_ms() != 0) j["interrupted_at"] = time_json(job.interrupted_at_ms());
  j["steps"] = step_json(job, 0);
  return j;
}

std::vector<std::size_t> exec_steps(const Job& job, std::optional<std::size_t> step) {
  std::vector<std::size_t> out;
  for (const JobStep& s : job.steps()) {
    if (std::holds_alternative<ExecStep>(s.spec().kind) && (!step || *step == s.index()))
      out.push_back(s.index());
  }
  return out;
}

json output_json(const Job& job, std::optional<std::size_t> step) {
  json steps = json::array();
  for (std::size_t index : exec_steps(job, step)) {
    const JobStep& s = job.step(index);
    json j = s.exec() != nullptr ? s.exec()->output_json() : json::object();
    j["id"] = job.step_id(index);
    j["argv"] = std::get<ExecStep>(s.spec().kind).argv;
    j["state"] = state_name(s.state());
    steps.push_back(std::move(j));
  }
  return {{"id", job.id_text()}, {"state", state_name(job.state())}, {"steps", steps}};
}

std::string json_text(const json& data) {
  return data.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace uasyncd::server
