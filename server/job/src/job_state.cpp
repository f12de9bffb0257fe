#include "uasyncd/job/job_state.hpp"

namespace uasyncd::server {
namespace {

constexpr std::array<const char*, kAllJobStates.size()> kNames{
    "scheduled", "pending", "running", "done", "failed", "cancelled", "timed_out", "interrupted"};

}  // namespace

const char* state_name(JobState s) {
  return kNames[static_cast<std::size_t>(s)];
}

std::optional<JobState> parse_state(std::string_view name) {
  for (JobState s : kAllJobStates) {
    if (name == state_name(s)) return s;
  }
  return std::nullopt;
}

}  // namespace uasyncd::server
