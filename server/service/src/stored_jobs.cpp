#include "uasyncd/service/stored_jobs.hpp"

#include "uasyncd/job/job_json.hpp"

namespace uasyncd::server {

std::shared_ptr<Job> StoredJobs::find(const JobRef& ref, std::optional<JobError>& error,
                                      bool finished_only) {
  std::optional<JobRow> row;
  try {
    row = backend_.get(ref.id);
  } catch (const std::exception& e) {
    error = JobError{JobErrorCode::unavailable, e.what()};
    return nullptr;
  }
  error.reset();
  if (finished_only && (!row || !is_final(row->state))) return nullptr;
  std::shared_ptr<Job> job;
  if (row) {
    std::string why;
    job = job_of(*row, why);
    if (!job) {
      error = JobError{JobErrorCode::unavailable, ref_text(ref) + " cannot be read back: " + why};
      return nullptr;
    }
  }
  error = find_error(job.get(), ref);
  return error ? nullptr : job;
}

Result<nlohmann::json> StoredJobs::get(const JobRef& ref) {
  std::optional<JobError> error;
  std::shared_ptr<Job> job = find(ref, error);
  if (!job) return *error;
  return full_json(*job);
}

Result<nlohmann::json> StoredJobs::cancel(const JobRef& ref) {
  std::optional<JobError> error;
  if (!find(ref, error)) return *error;
  return not_running(ref);  // a job that is not live has finished
}

Result<nlohmann::json> StoredJobs::set_timeout(const JobRef& ref) {
  std::optional<JobError> error;
  std::shared_ptr<Job> job = find(ref, error);
  if (!job) return *error;
  if (std::optional<JobError> refused = timeout_error(*job, ref)) return *refused;
  return JobError{JobErrorCode::finished, ref_text(ref) + " has finished"};
}

Result<Removal> StoredJobs::remove(const JobRef& ref) {
  std::optional<JobError> error;
  std::shared_ptr<Job> job = find(ref, error);
  if (!job) return *error;
  if (std::optional<JobError> refused = remove_error(*job, ref)) return *refused;
  return Removal{backend_.erase(job->id(), job->state()), job->state()};
}

Result<nlohmann::json> StoredJobs::output(const JobRef& ref) {
  std::optional<JobError> error;
  std::shared_ptr<Job> job = find(ref, error);
  if (!job) return *error;
  if (std::optional<JobError> refused = output_error(*job, ref)) return *refused;
  return output_json(*job, ref.step);
}

Result<Done> StoredJobs::follow_output(const JobRef& ref, const OutputFollower& follower) {
  std::optional<JobError> error;
  std::shared_ptr<Job> job = find(ref, error);
  if (!job) return *error;
  if (std::optional<JobError> refused = output_error(*job, ref)) return *refused;
  replay_output(*job, ref.step, follower);
  follower.end({job->id_text(), job->state()});
  return Done{};
}

}  // namespace uasyncd::server
