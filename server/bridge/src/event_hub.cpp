#include "uasyncd/bridge/event_hub.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "uasyncd/job/job_json.hpp"

namespace uasyncd::server {

void EventHub::subscribe(std::shared_ptr<SseChannel> channel) {
  std::lock_guard lock(mu_);
  channels_.push_back(std::move(channel));
  subscribers_.store(channels_.size(), std::memory_order_relaxed);
}

void EventHub::publish(const nlohmann::json& event) {
  const std::string text = json_text(event);
  std::lock_guard lock(mu_);
  std::erase_if(channels_, [&](const std::shared_ptr<SseChannel>& c) { return !c->push(text); });
  subscribers_.store(channels_.size(), std::memory_order_relaxed);
}

void EventHub::close_all() {
  std::lock_guard lock(mu_);
  for (const auto& c : channels_)
    c->close();
  channels_.clear();
  subscribers_.store(0, std::memory_order_relaxed);
}

}  // namespace uasyncd::server
