#include "uasyncd/bridge/event_streams.hpp"

#include <utility>

namespace uasyncd::server {

bool EventStreams::add(const std::string& id, std::shared_ptr<SseChannel> channel) {
  std::lock_guard lock(mu_);
  return streams_.emplace(id, std::make_shared<Stream>(std::move(channel))).second;
}

std::shared_ptr<EventStreams::Stream> EventStreams::find(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second;
}

std::shared_ptr<EventStreams::Stream> EventStreams::remove(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = streams_.find(id);
  if (it == streams_.end()) return nullptr;
  std::shared_ptr<Stream> out = std::move(it->second);
  streams_.erase(it);
  return out;
}

std::size_t EventStreams::size() const {
  std::lock_guard lock(mu_);
  return streams_.size();
}

}  // namespace uasyncd::server
