// What a request may do to a job, the same whether the job is live (the service, on the loop
// thread) or read back from the store (StoredJobs, on an HTTP thread). Pure functions.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "uasyncd/job/job.hpp"
#include "uasyncd/job/job_id.hpp"
#include "uasyncd/service/job_error.hpp"
#include "uasyncd/store/job_backend.hpp"

namespace uasyncd::server {

std::string ref_text(const JobRef& ref);
JobError no_such(const JobRef& ref);
// A delete done: the erase's ticket and the final state the job had (for its "removed" event).
struct Removal {
  WriteTicket ticket = 0;
  JobState state = JobState::done;
};
// not_found when there is no job, or the step is out of its range.
std::optional<JobError> find_error(const Job* job, const JobRef& ref);
JobError not_running(const JobRef& ref);
// A timeout applies to a whole job that has not finished.
std::optional<JobError> timeout_error(const Job& job, const JobRef& ref);
// Only a whole job that has finished, or is still scheduled, can be deleted.
std::optional<JobError> remove_error(const Job& job, const JobRef& ref);
// Output is asked of a job, or of one of its exec steps.
std::optional<JobError> output_error(const Job& job, const JobRef& ref);

// What a follower of a job's exec output is told, on the thread that has the job.
struct OutputChunk {
  std::string step_id;
  bool is_stderr = false;
  std::string_view data;
  std::size_t offset = 0;  // of `data` in the step's kept stream
};
struct OutputEnd {
  std::string job_id;
  JobState state = JobState::done;
};
struct OutputFollower {
  std::function<bool(const OutputChunk&)> chunk;  // false: the follower has gone
  std::function<void(const OutputEnd&)> end;      // the last call
};
// Everything passed on so far (the output a live follower would have seen).
void replay_output(const Job& job, std::optional<std::size_t> step, const OutputFollower& to);

}  // namespace uasyncd::server
