#include "uasyncd/job/job_error_info.hpp"

#include <uasyncio/errors.hpp>

namespace uasyncd::server {

JobState state_of_error(const std::exception_ptr& e) {
  if (!e) return JobState::done;
  try {
    std::rethrow_exception(e);
  } catch (const uasyncio::CancelledError&) {
    return JobState::cancelled;
  } catch (const uasyncio::TimeoutError&) {
    return JobState::timed_out;
  } catch (...) {
    return JobState::failed;
  }
}

ErrorInfo describe(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const uasyncio::CancelledError&) {
    return {"CancelledError", ""};
  } catch (const uasyncio::TimeoutError&) {
    return {"TimeoutError", ""};
  } catch (const uasyncio::RuntimeError& x) {
    return {"RuntimeError", x.what()};
  } catch (const std::exception& x) {
    return {"Exception", x.what()};
  } catch (...) {
    return {"Exception", "unknown error"};
  }
}

}  // namespace uasyncd::server
