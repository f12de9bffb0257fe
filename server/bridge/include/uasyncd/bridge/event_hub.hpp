// Fans job transitions out to the open GET /api/events streams. The loop thread publishes;
// HTTP threads subscribe; neither waits for the other beyond a short lock.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "uasyncd/bridge/sse_channel.hpp"

namespace uasyncd::server {

class EventHub {
 public:
  void subscribe(std::shared_ptr<SseChannel> channel);
  // Whether anyone listens, so the loop builds no events when nobody would read them.
  bool active() const { return subscribers_.load(std::memory_order_relaxed) > 0; }
  // Sends `event` to every subscriber and forgets the ones whose reader has gone.
  void publish(const nlohmann::json& event);
  // Ends every stream (shutdown).
  void close_all();

 private:
  std::mutex mu_;
  std::vector<std::shared_ptr<SseChannel>> channels_;
  std::atomic<std::size_t> subscribers_{0};
};

}  // namespace uasyncd::server
