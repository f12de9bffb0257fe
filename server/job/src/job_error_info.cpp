#include "uasyncd/job/job_error_info.hpp"

#include <string>
#include <string_view>

#include <uasyncio/errors.hpp>

namespace uasyncd::server {

JobState state_of_error(const std::exception_ptr& e) {
  const uasyncio::ErrorClass error = uasyncio::classify(e);
  if (error.kind == uasyncio::ErrorKind::none) return JobState::done;
  if (error.kind == uasyncio::ErrorKind::cancelled) return JobState::cancelled;
  return std::string_view(error.name) == "TimeoutError" ? JobState::timed_out : JobState::failed;
}

ErrorInfo describe(const std::exception_ptr& e) {
  const uasyncio::ErrorClass error = uasyncio::classify(e);
  if (error.kind == uasyncio::ErrorKind::other) return {"Exception", "unknown error"};
  return {error.name, std::string(error.message())};
}

}  // namespace uasyncd::server
