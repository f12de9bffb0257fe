#include "uasyncd/bridge/sse_channel.hpp"

#include <utility>

#include "uasyncd/job/job_json.hpp"

namespace uasyncd::server {

bool SseChannel::push(std::string item) {
  {
    std::lock_guard lock(mu_);
    if (abandoned_) return false;
    if (closed_) return true;
    if (pending_bytes_ + item.size() > max_pending_bytes_) {
      ++lost_;
      return true;
    }
    pending_bytes_ += item.size();
    items_.push_back(std::move(item));
  }
  cv_.notify_one();
  return true;
}

void SseChannel::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_one();
}

bool SseChannel::abandoned() const {
  std::lock_guard lock(mu_);
  return abandoned_;
}

SseChannel::Taken SseChannel::take(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, deadline,
                 [&] { return !items_.empty() || lost_ > 0 || closed_ || abandoned_; });
  Taken out;
  out.items.swap(items_);
  out.lost = std::exchange(lost_, 0);
  out.closed = closed_ || abandoned_;
  pending_bytes_ = 0;
  return out;
}

void SseChannel::abandon() {
  {
    std::lock_guard lock(mu_);
    abandoned_ = true;
    items_.clear();
    pending_bytes_ = 0;
  }
  cv_.notify_all();
}

std::string sse_frame(std::string_view event, const nlohmann::json& data) {
  std::string out = "event: ";
  out.append(event);
  out += "\ndata: ";
  out += json_text(data);
  out += "\n\n";
  return out;
}

}  // namespace uasyncd::server
