// The states of a job and of each of its steps, with the names the HTTP API and the store use.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace uasyncd::server {

// scheduled: waits for its "delay" or "at" time, then becomes pending.
// interrupted: the daemon stopped (a crash, a kill) while the job ran; found so at restart.
// The order is the one lists and counts show (a job's life, then its ends).
enum class JobState {
  scheduled,
  pending,
  running,
  done,
  failed,
  cancelled,
  timed_out,
  interrupted
};
inline constexpr std::array<JobState, 8> kAllJobStates{
    JobState::scheduled, JobState::pending,   JobState::running,   JobState::done,
    JobState::failed,    JobState::cancelled, JobState::timed_out, JobState::interrupted};

const char* state_name(JobState s);
std::optional<JobState> parse_state(std::string_view name);
inline bool is_final(JobState s) {
  return s != JobState::scheduled && s != JobState::pending && s != JobState::running;
}

}  // namespace uasyncd::server
