// What the job service answers instead of a result: one code per reason a request is refused,
// with a message for people. The HTTP API maps each code to a status (api/api_error.cpp).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace uasyncd::server {

enum class JobErrorCode {
  not_found,     // no such job, or no such step of it
  invalid,       // the request does not apply to what it names (a step where a job is needed)
  invalid_spec,  // the spec was refused (the message names the JSON path)
  forbidden,     // exec steps without --allow-exec
  not_running,   // cancel of a job or step that is not running
  finished,      // a timeout for a finished job
  not_finished,  // a delete of an unfinished job
  unavailable,   // the loop or the store did not answer in time
  not_live,      // the job is not in the loop's RAM: ask the store (never leaves the bridge)
  key_in_use,    // a submit with this Idempotency-Key is being carried out right now
  key_reused,    // an Idempotency-Key already used for a different spec
  exists,        // a schedule of that name exists already
  internal,      // a bug: the request threw; nothing is known about what it did
};

struct JobError {
  JobErrorCode code;
  std::string message;
};

struct Done {};

// A value, or why there is none.
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit, as a return value
  Result(JobError error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const JobError& error() const { return std::get<1>(v_); }
  bool is(JobErrorCode code) const { return !ok() && error().code == code; }

 private:
  std::variant<T, JobError> v_;
};

}  // namespace uasyncd::server
