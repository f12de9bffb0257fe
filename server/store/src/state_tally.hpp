// Jobs per state, counted as writes are made: atomics, so the loop thread, a writer thread and
// readers on HTTP threads never wait for one another.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "uasyncd/store/job_backend.hpp"

namespace uasyncd::server {

class StateTally {
 public:
  void add(JobState s, std::int64_t n = 1) {
    counts_[static_cast<std::size_t>(s)].fetch_add(n, std::memory_order_relaxed);
  }
  void move(JobState from, JobState to) {
    if (from == to) return;
    add(from, -1);
    add(to);
  }
  StateCounts get() const {
    StateCounts out{};
    for (std::size_t i = 0; i < out.size(); ++i) {
      const std::int64_t n = counts_[i].load(std::memory_order_relaxed);
      out[i] = n > 0 ? static_cast<std::uint64_t>(n) : 0;
    }
    return out;
  }
  std::uint64_t finished() const {
    std::uint64_t n = 0;
    const StateCounts c = get();
    for (JobState s : kAllJobStates) {
      if (is_final(s)) n += c[static_cast<std::size_t>(s)];
    }
    return n;
  }

 private:
  std::array<std::atomic<std::int64_t>, kAllJobStates.size()> counts_{};
};

}  // namespace uasyncd::server
