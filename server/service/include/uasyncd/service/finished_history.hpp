// How many jobs reached each final state in each of the last 15 minutes' seconds (GET
// /api/stats/history): a ring of 900 one-second slots per final state, in RAM only (a restart
// starts it empty). Fixed size (18 KB), no allocation per job.
//
// Threads: owned by the job service; loop thread only.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "uasyncd/job/job_state.hpp"

namespace uasyncd::server {

class FinishedHistory {
 public:
  static constexpr std::size_t kSeconds = 900;
  static constexpr std::size_t kFinalStates = 5;  // done, failed, cancelled, timed_out, interrupted
  // The final states in the order of Snapshot::counts.
  static constexpr std::array<JobState, kFinalStates> kStates{
      JobState::done, JobState::failed, JobState::cancelled, JobState::timed_out,
      JobState::interrupted};

  // A job reached final `state` during Unix second `second` (other states are ignored).
  void count(JobState state, std::int64_t second);

  struct Snapshot {
    // counts[s][i]: jobs that reached kStates[s] during second end - 900 + i; the last entry is
    // the last complete second (end - 1), the current one is not included.
    std::int64_t end = 0;
    std::array<std::array<std::uint32_t, kSeconds>, kFinalStates> counts{};
  };
  // The 900 seconds before `now_second` (its start).
  Snapshot snapshot(std::int64_t now_second) const;

 private:
  struct Slot {
    std::int64_t second = -1;  // which second the counts are of: older ones read as 0
    std::array<std::uint32_t, kFinalStates> counts{};
  };
  static std::size_t slot_of(std::int64_t second);

  std::array<Slot, kSeconds> slots_{};
};

}  // namespace uasyncd::server
