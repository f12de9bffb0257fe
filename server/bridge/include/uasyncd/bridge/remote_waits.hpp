// Long-polls for tasks another instance runs (cluster mode): the loop here cannot watch them.
// Each is answered when the task's "finished" event comes from its owner (forwarded through the
// database), or else by a read of the store every kRemoteWaitPoll (a lost event, an owner that
// died and whose task another instance ended).
//
// Threads: one thread of its own reads the store and answers; add, finished and stop from any
// thread. Lifetime: stop() (or the destructor) before the store goes away.
#pragma once

#include <pthread.h>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace uasyncd::server {

inline constexpr std::chrono::milliseconds kRemoteWaitPoll{500};

template <class Wait>
class RemoteWaits {
 public:
  // `settle` reads the store for one wait and answers it if the task has finished (true: done
  // with it). Called on the thread of this object only.
  explicit RemoteWaits(std::function<bool(Wait&)> settle) : settle_(std::move(settle)) {}
  ~RemoteWaits() { stop(); }
  RemoteWaits(const RemoteWaits&) = delete;
  RemoteWaits& operator=(const RemoteWaits&) = delete;

  void add(std::uint64_t id, const std::shared_ptr<Wait>& wait) {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    waits_[id].push_back(wait);
    if (!thread_.joinable()) {
      thread_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "uasyncd-waits");  // as top -H and perf show it
        run();
      });
    }
  }
  // The task ended somewhere: its waits are settled now, not at the next poll.
  void finished(std::uint64_t id) {
    std::lock_guard lock(mu_);
    if (!waits_.contains(id)) return;
    ended_.insert(id);
    cv_.notify_one();
  }
  bool empty() const {
    std::lock_guard lock(mu_);
    return waits_.empty();
  }
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
      cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    std::unique_lock lock(mu_);
    auto next_poll = std::chrono::steady_clock::now() + kRemoteWaitPoll;
    while (!stopped_) {
      cv_.wait_until(lock, next_poll, [&] { return stopped_ || !ended_.empty(); });
      if (stopped_) break;
      std::vector<std::uint64_t> ids;
      if (std::chrono::steady_clock::now() >= next_poll) {
        for (const auto& [id, list] : waits_)
          ids.push_back(id);
        next_poll = std::chrono::steady_clock::now() + kRemoteWaitPoll;
      } else {
        ids.assign(ended_.begin(), ended_.end());
      }
      ended_.clear();
      for (std::uint64_t id : ids) {
        auto it = waits_.find(id);
        if (it == waits_.end()) continue;
        std::vector<std::weak_ptr<Wait>> list = std::move(it->second);
        waits_.erase(it);
        std::vector<std::weak_ptr<Wait>> keep;
        lock.unlock();  // the store is read without the lock: adds go on meanwhile
        for (std::weak_ptr<Wait>& weak : list) {
          std::shared_ptr<Wait> w = weak.lock();
          if (w && !settle_(*w)) keep.push_back(std::move(weak));
        }
        lock.lock();
        if (!keep.empty()) {
          std::vector<std::weak_ptr<Wait>>& now = waits_[id];
          now.insert(now.end(), keep.begin(), keep.end());
        }
      }
    }
  }

  std::function<bool(Wait&)> settle_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::uint64_t, std::vector<std::weak_ptr<Wait>>> waits_;
  std::unordered_set<std::uint64_t> ended_;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace uasyncd::server
