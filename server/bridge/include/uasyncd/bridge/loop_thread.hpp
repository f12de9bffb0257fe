// The thread that owns the uasyncio loop, and the bridge into it: other threads post commands
// to a queue and wake the loop with a uv_async; the loop runs them between tasks.
#pragma once

#include <uv.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
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
  // Queues `fn` for the loop thread; false once the loop is stopping.
  bool post(Command fn);
  // Runs `fn` on the loop thread and returns its result, or nullopt if the loop did not answer
  // within `timeout` (or is stopping).
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

template <class R>
std::optional<R> LoopThread::call(std::function<R()> fn, std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<R>>();
  std::future<R> future = promise->get_future();
  if (!post([promise, fn = std::move(fn)] { promise->set_value(fn()); })) return std::nullopt;
  if (future.wait_for(timeout) != std::future_status::ready) return std::nullopt;
  try {
    return future.get();
  } catch (const std::future_error&) {  // dropped unanswered by a stopping loop
    return std::nullopt;
  }
}

}  // namespace uasyncd::server
