// The states of a job and of each of its steps, with the names the HTTP API and the store use.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace uasyncd::server {

// interrupted: the daemon stopped (a crash, a kill) while the job ran; found so at restart.
enum class JobState { pending, running, done, failed, cancelled, timed_out, interrupted };
inline constexpr std::array<JobState, 7> kAllJobStates{
    JobState::pending,   JobState::running,   JobState::done,       JobState::failed,
    JobState::cancelled, JobState::timed_out, JobState::interrupted};

const char* state_name(JobState s);
std::optional<JobState> parse_state(std::string_view name);
inline bool is_final(JobState s) {
  return s != JobState::pending && s != JobState::running;
}

}  // namespace uasyncd::server
