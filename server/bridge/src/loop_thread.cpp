#include "uasyncd/bridge/loop_thread.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <uasyncio/uasyncio.hpp>

#include <exception>
#include <utility>

namespace uasyncd::server {

void LoopThread::start(bool virtual_clock, Command setup, Command teardown) {
  thread_ = std::thread(
      [this, virtual_clock, setup = std::move(setup), teardown = std::move(teardown)]() mutable {
        pthread_setname_np(pthread_self(), "uasyncd-loop");  // as top -H and perf show it
        run(virtual_clock, std::move(setup), std::move(teardown));
      });
  std::unique_lock lock(mu_);
  started_cv_.wait(lock, [&] { return started_; });
}

bool LoopThread::post(Command fn) {
  std::lock_guard lock(mu_);
  if (!accepting_) return false;
  queue_.push_back({std::move(fn), std::chrono::steady_clock::now()});
  // Under the lock: the loop thread closes async_ only after turning accepting_ off under it.
  uv_async_send(&async_);
  return true;
}

void LoopThread::drain() {
  std::deque<Queued> batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(queue_);
  }
  const auto now = std::chrono::steady_clock::now();
  for (Queued& q : batch) {
    lag_.store(std::chrono::duration<double>(now - q.posted).count(), std::memory_order_relaxed);
    // Caught here: an exception must not unwind through libuv's C frames (std::terminate).
    try {
      q.fn();
    } catch (const std::exception& e) {
      spdlog::error("a command on the loop thread failed: {}", e.what());
    } catch (...) {  // NOLINT: anything else thrown is reported the same way
      spdlog::error("a command on the loop thread failed with a non-standard exception");
    }
  }
}

void LoopThread::stop_from_loop() {
  std::lock_guard lock(mu_);
  accepting_ = false;
  uasyncio::get_event_loop().stop();
}

void LoopThread::run(bool virtual_clock, Command setup, Command teardown) {
  uasyncio::Loop& loop = uasyncio::new_event_loop();
  loop.set_virtual_clock(virtual_clock);
  async_.data = this;
  // A libuv callback may only queue tasks, never resume one: commands create, cancel and
  // inspect tasks, all of which just queue work for the scheduler.
  uv_async_init(loop.uv_loop(), &async_,
                [](uv_async_t* a) { static_cast<LoopThread*>(a->data)->drain(); });
  setup();
  {
    std::lock_guard lock(mu_);
    accepting_ = true;
    started_ = true;
  }
  started_cv_.notify_all();
  loop.run_forever();
  {
    std::lock_guard lock(mu_);
    accepting_ = false;
    queue_.clear();  // unanswered callers see a broken promise and give up
  }
  teardown();
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  uv_run(loop.uv_loop(), UV_RUN_NOWAIT);
}

void LoopThread::join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace uasyncd::server
