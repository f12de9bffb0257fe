// The requests of the job service for jobs that are not live (finished and written), answered
// from the backend with the same rules (job_rules.hpp). A job that is not live has finished: it
// cannot be cancelled or timed out, only read or deleted.
//
// Threads: any (HTTP threads); it reads the backend, never the loop's RAM.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>

#include "uasyncd/job/job.hpp"
#include "uasyncd/service/job_error.hpp"
#include "uasyncd/service/job_rules.hpp"
#include "uasyncd/store/job_backend.hpp"

namespace uasyncd::server {

class StoredJobs {
 public:
  explicit StoredJobs(JobBackend& backend) : backend_(backend) {}

  // The job a reference names, rebuilt from its row, or null and why not. `finished_only`: null
  // with no error when the job is not stored as finished (the caller asks the loop instead).
  std::shared_ptr<Job> find(const JobRef& ref, std::optional<JobError>& error,
                            bool finished_only = false);
  Result<nlohmann::json> get(const JobRef& ref);
  Result<nlohmann::json> cancel(const JobRef& ref);
  Result<nlohmann::json> set_timeout(const JobRef& ref);
  Result<Removal> remove(const JobRef& ref);
  Result<nlohmann::json> output(const JobRef& ref);
  Result<Done> follow_output(const JobRef& ref, const OutputFollower& follower);

 private:
  JobBackend& backend_;
};

}  // namespace uasyncd::server
