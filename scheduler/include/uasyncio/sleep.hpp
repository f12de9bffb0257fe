// sleep / sleep_ms (§5). The deadline is fixed when sleep is called, not when it is awaited,
// and even a zero sleep yields exactly once.
#pragma once

#include <coroutine>
#include <cstdint>

#include "uasyncio/loop.hpp"

namespace uasyncio {

class Sleep {
 public:
  explicit Sleep(std::int64_t deadline_ms) noexcept : deadline_(deadline_ms) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    Loop& loop = detail::current_loop();
    detail::TaskHeader* t = loop.current();
    t->resume_point = h;
    loop.schedule_at(t, deadline_);
  }
  void await_resume() { detail::throw_if_pending(detail::current_loop()); }
  std::int64_t deadline() const noexcept { return deadline_; }

 private:
  std::int64_t deadline_;
};

namespace detail {
// MicroPython's int(t * 1000): truncated; negative and NaN give 0, huge values saturate.
std::int64_t seconds_to_ms(double seconds) noexcept;
}  // namespace detail

// Sleeps `ms` milliseconds (negative counts as 0).
Sleep sleep_ms(std::int64_t ms);
// Sleeps `seconds`, truncated to whole milliseconds (0.0019 s is 1 ms); negative counts as 0.
Sleep sleep(double seconds);

}  // namespace uasyncio
