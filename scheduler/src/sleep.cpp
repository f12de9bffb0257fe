#include "uasyncio/sleep.hpp"

#include <cstdint>
#include <limits>

namespace uasyncio {
namespace {

// Both sleep() and sleep_ms() inline it: a zero sleep is a task switch, and a call would cost
// as much as its body.
[[gnu::always_inline]] inline Sleep sleep_for_ms(std::int64_t ms) {
  detail::Scheduler& s = detail::current_scheduler();
  if (ms > 0) [[unlikely]]
    return Sleep(s.deadline_after(ms));
  // A zero sleep's key is only ever compared with sleepers' deadlines, so with none queued the
  // last reading of the clock serves and a yield costs no clock read (as in schedule_now).
  if (s.has_timers()) s.refresh_now();
  return Sleep(s.now());
}

}  // namespace

Sleep sleep_ms(std::int64_t ms) {
  return sleep_for_ms(ms);
}

std::int64_t seconds_to_ms(double seconds) noexcept {
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  const double ms = seconds * 1000.0;
  if (!(ms > 0)) return 0;
  // 2^63 as a double; anything from there on does not fit (and converting it would be UB).
  if (ms >= 9223372036854775808.0) return kMax;
  return static_cast<std::int64_t>(ms);
}

Sleep sleep(double seconds) {
  return sleep_for_ms(seconds_to_ms(seconds));
}

}  // namespace uasyncio
