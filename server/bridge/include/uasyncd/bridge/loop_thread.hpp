// The thread that owns the uasyncio loop, and the bridge into it: other threads post commands
// to a queue and wake the loop with a uv_async; the loop runs them between tasks.
//
// A command never throws into libuv (whose C callback would end the process): an exception of a
// posted command is logged, one of a call() goes back to its caller; the loop goes on either way.
#pragma once

#include <uv.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace uasyncd::server {

class LoopThread {
 public:
  using Command = std::function<void()>;

  LoopThread() = default;
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;
  ~LoopThread() { join(); }

  // Starts the thread; `setup` runs first on it (with its loop current), `teardown` after the
  // loop stopped, while the loop still exists.
  void start(bool virtual_clock, Command setup, Command teardown);
  // Queues `fn` for the loop thread; false once the loop is stopping. A queued command runs
  // unless the loop stops first.
  bool post(Command fn);
  // Runs `fn` on the loop thread and returns its result. A command the loop has not started
  // within `timeout` is dropped and never runs: nullopt means that nothing happened (or that the
  // loop is stopping). One that has started is waited for, however long it takes past the
  // timeout, so what it did is always reported. An exception it throws is rethrown here.
  template <class R>
  std::optional<R> call(std::function<R()> fn, std::chrono::milliseconds timeout);
  // Stops the loop from the loop thread (inside a posted command or a task).
  void stop_from_loop();
  void join();
  // How long the last command waited for the loop (seconds): the loop's lag.
  double lag_seconds() const { return lag_.load(std::memory_order_relaxed); }

 private:
  struct Queued {
    Command fn;
    std::chrono::steady_clock::time_point posted;
  };
  void run(bool virtual_clock, Command setup, Command teardown);
  void drain();

  std::thread thread_;
  uv_async_t async_{};
  std::mutex mu_;
  std::condition_variable started_cv_;
  bool started_ = false;
  bool accepting_ = false;
  std::deque<Queued> queue_;
  std::atomic<double> lag_{0};
};

namespace detail {

// Who decides a call's fate: the loop when it starts the command, or the caller when it gives
// up; whichever comes first.
class CallClaim {
 public:
  // The loop, about to run the command: false when the caller gave up or the deadline passed.
  bool start(std::chrono::steady_clock::time_point deadline) {
    int expected = kQueued;
    if (std::chrono::steady_clock::now() >= deadline) {
      state_.compare_exchange_strong(expected, kDropped);
      return false;
    }
    return state_.compare_exchange_strong(expected, kStarted);
  }
  // The caller, giving up: true when the command will never run.
  bool drop() {
    int expected = kQueued;
    return state_.compare_exchange_strong(expected, kDropped) || expected == kDropped;
  }

 private:
  static constexpr int kQueued = 0;
  static constexpr int kStarted = 1;
  static constexpr int kDropped = 2;
  std::atomic<int> state_{kQueued};
};

}  // namespace detail

template <class R>
std::optional<R> LoopThread::call(std::function<R()> fn, std::chrono::milliseconds timeout) {
  struct Reply {
    detail::CallClaim claim;
    std::promise<R> promise;
  };
  auto reply = std::make_shared<Reply>();
  std::future<R> future = reply->promise.get_future();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const bool queued = post([reply, deadline, fn = std::move(fn)] {
    if (!reply->claim.start(deadline)) return;  // too late: its caller has answered already
    try {
      reply->promise.set_value(fn());
    } catch (...) {  // NOLINT: whatever it threw is the caller's to see, not libuv's
      reply->promise.set_exception(std::current_exception());
    }
  });
  if (!queued) return std::nullopt;
  if (future.wait_until(deadline) != std::future_status::ready && reply->claim.drop()) {
    return std::nullopt;
  }
  try {
    return future.get();
  } catch (const std::future_error&) {  // dropped unanswered by a stopping loop
    return std::nullopt;
  }
}

}  // namespace uasyncd::server
