// sleep / sleep_ms (§5): MicroPython's asyncio.sleep(t) and asyncio.sleep_ms(t).
//
//   co_await ua::sleep(0.25);   // 250 ms (seconds truncated to whole milliseconds)
//   co_await ua::sleep_ms(0);   // yields exactly once, after every task already ready
//
// The deadline is fixed when sleep is called, not when it is awaited (§5.4), and deadlines
// saturate: a huge delay sleeps "forever" rather than overflowing.
// As in MicroPython a sleep is not a coroutine: create_task, gather and wait_for do not take it
// (a compile-time error here, a TypeError there).
// Lifetime: a Sleep is a value; await it at most once, on the loop that made it.
// Thread rules: call and await on the loop's thread.
#pragma once

#include <coroutine>
#include <cstdint>

#include "uasyncio/detail/scheduler.hpp"

namespace uasyncio {

class Sleep {
 public:
  explicit Sleep(std::int64_t deadline_ms) noexcept : deadline_(deadline_ms) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    detail::Scheduler& s = detail::current_scheduler();
    task_ = s.current();
    task_->resume_point = h;
    s.schedule_at(task_, deadline_);
  }
  // A cancel (§6.4) wakes the sleeper early with CancelledError.
  void await_resume() {
    if (task_->error) [[unlikely]]
      detail::rethrow_pending(task_);
  }
  // When the sleep ends, in milliseconds on the loop's clock (ticks_ms()).
  std::int64_t deadline() const noexcept { return deadline_; }

 private:
  std::int64_t deadline_;
  detail::TaskHeader* task_ = nullptr;  // the task asleep in it
};

// MicroPython's int(t * 1000): seconds to whole milliseconds, truncated; negative and NaN give
// 0, huge values saturate (for timeouts given in seconds, as the daemon's specs are).
std::int64_t seconds_to_ms(double seconds) noexcept;

// §5, asyncio.sleep_ms(ms): sleeps `ms` milliseconds (negative counts as 0).
Sleep sleep_ms(std::int64_t ms);
// §5, asyncio.sleep(t): sleeps `seconds`, truncated to whole milliseconds (0.0019 s is 1 ms);
// negative counts as 0.
Sleep sleep(double seconds);

}  // namespace uasyncio
