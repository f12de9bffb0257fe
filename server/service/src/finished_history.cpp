#include "uasyncd/service/finished_history.hpp"

namespace uasyncd::server {
namespace {

// The index of `state` in FinishedHistory::kStates, or kFinalStates for a state that is not final.
std::size_t state_index(JobState state) {
  for (std::size_t i = 0; i < FinishedHistory::kFinalStates; ++i) {
    if (FinishedHistory::kStates[i] == state) return i;
  }
  return FinishedHistory::kFinalStates;
}

}  // namespace

std::size_t FinishedHistory::slot_of(std::int64_t second) {
  const auto n = static_cast<std::int64_t>(kSeconds);
  return static_cast<std::size_t>(((second % n) + n) % n);
}

void FinishedHistory::count(JobState state, std::int64_t second) {
  const std::size_t s = state_index(state);
  if (s == kFinalStates) return;
  Slot& slot = slots_[slot_of(second)];
  if (slot.second != second) {
    slot.second = second;
    slot.counts = {};
  }
  ++slot.counts[s];
}

FinishedHistory::Snapshot FinishedHistory::snapshot(std::int64_t now_second) const {
  Snapshot out;
  out.end = now_second;
  for (std::size_t i = 0; i < kSeconds; ++i) {
    const std::int64_t second =
        now_second - static_cast<std::int64_t>(kSeconds) + static_cast<std::int64_t>(i);
    const Slot& slot = slots_[slot_of(second)];
    if (slot.second != second) continue;
    for (std::size_t s = 0; s < kFinalStates; ++s)
      out.counts[s][i] = slot.counts[s];
  }
  return out;
}

}  // namespace uasyncd::server
