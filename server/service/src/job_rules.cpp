#include "uasyncd/service/job_rules.hpp"

#include "uasyncd/job/job_json.hpp"

namespace uasyncd::server {

std::string ref_text(const JobRef& ref) {
  return ref.step ? step_id_text(ref.id, *ref.step) : job_id_text(ref.id);
}

JobError no_such(const JobRef& ref) {
  return {JobErrorCode::not_found, "no task or step " + ref_text(ref)};
}

std::optional<JobError> find_error(const Job* job, const JobRef& ref) {
  if (job == nullptr || (ref.step && *ref.step >= job->steps().size())) return no_such(ref);
  return std::nullopt;
}

JobError not_running(const JobRef& ref) {
  return {JobErrorCode::not_running, ref_text(ref) + " is not running"};
}

std::optional<JobError> timeout_error(const Job& job, const JobRef& ref) {
  if (ref.step) return JobError{JobErrorCode::invalid, "timeouts apply to whole tasks"};
  if (is_final(job.state()))
    return JobError{JobErrorCode::finished, ref_text(ref) + " has finished"};
  return std::nullopt;
}

std::optional<JobError> remove_error(const Job& job, const JobRef& ref) {
  if (ref.step) return JobError{JobErrorCode::invalid, "steps cannot be deleted, only tasks"};
  // A scheduled job never ran: deleting it unschedules it (the service cancels it first).
  if (!is_final(job.state()) && job.state() != JobState::scheduled) {
    return JobError{JobErrorCode::not_finished, ref_text(ref) + " has not finished"};
  }
  return std::nullopt;
}

std::optional<JobError> output_error(const Job& job, const JobRef& ref) {
  if (ref.step && !std::holds_alternative<ExecStep>(job.step(*ref.step).spec().kind)) {
    return JobError{JobErrorCode::invalid, ref_text(ref) + " is not an exec step"};
  }
  return std::nullopt;
}

void replay_output(const Job& job, std::optional<std::size_t> step, const OutputFollower& to) {
  for (std::size_t index : exec_steps(job, step)) {
    const ExecOutput* out = job.step(index).exec();
    if (out == nullptr) continue;
    for (bool is_stderr : {false, true}) {
      const StreamCapture& cap = out->stream(is_stderr);
      if (cap.published == 0) continue;
      to.chunk(
          {job.step_id(index), is_stderr, std::string_view(cap.kept()).substr(0, cap.published)});
    }
  }
}

}  // namespace uasyncd::server
