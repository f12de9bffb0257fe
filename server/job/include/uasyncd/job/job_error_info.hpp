// How a job or a step failed, as the API shows it: {type, message}, in Python's terms.
#pragma once

#include <exception>
#include <string>

#include "uasyncd/job/job_state.hpp"

namespace uasyncd::server {

struct ErrorInfo {
  std::string type;
  std::string message;
};

// What an exception means for a step or a job: its final state and its {type, message}.
// A null exception means success (done).
JobState state_of_error(const std::exception_ptr& e);
ErrorInfo describe(const std::exception_ptr& e);

}  // namespace uasyncd::server
