// A job as the API shows it: the summary (lists, events, cancel answers), the full record (GET),
// and the exec output. Pure functions of their argument; any thread that owns the job.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "uasyncd/job/job.hpp"

namespace uasyncd::server {

// What a list shows of a job. Made from a live job or read from a stored row without
// rebuilding the job (a list never parses a spec).
struct JobSummary {
  std::uint64_t id = 0;
  std::string name;
  std::string kind;
  JobState state = JobState::pending;
  int attempts = 0;
  std::int64_t created_ms = 0;
  std::int64_t run_at_ms = 0;  // 0: not delayed
  std::int64_t started_ms = 0;
  std::int64_t finished_ms = 0;
  nlohmann::json result;  // shown once final
  std::optional<ErrorInfo> error;
};

JobSummary summary_of(const Job& job);
nlohmann::json summary_json(const JobSummary& summary);
nlohmann::json summary_json(const Job& job);
// The summary, the spec and the step tree.
nlohmann::json full_json(const Job& job);
nlohmann::json error_json(const std::optional<ErrorInfo>& error);
// GET .../output: the exec steps (all, or the one `step` names) with everything kept so far.
nlohmann::json output_json(const Job& job, std::optional<std::size_t> step);
// The exec steps an output request covers: all of the job's, or the one step named.
std::vector<std::size_t> exec_steps(const Job& job, std::optional<std::size_t> step);
// JSON text that never fails on bytes that are not UTF-8 (a process's output): they are replaced.
std::string json_text(const nlohmann::json& data);

}  // namespace uasyncd::server
