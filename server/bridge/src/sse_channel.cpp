#include "uasyncd/bridge/sse_channel.hpp"

#include <utility>

#include "uasyncd/job/job_json.hpp"

namespace uasyncd::server {

bool SseChannel::push(std::string item) {
  return add(std::move(item), false);
}

bool SseChannel::push_frame(std::string frame) {
  return add(std::move(frame), true);
}

bool SseChannel::add(std::string text, bool frame) {
  {
    std::lock_guard lock(mu_);
    if (abandoned_) return false;
    if (closed_) return true;
    if (pending_bytes_ + text.size() > max_pending_bytes_) {
      ++lost_;
      return true;
    }
    pending_bytes_ += text.size();
    items_.push_back({std::move(text), frame});
    if (frame) ++frames_;
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
  for (Item& item : items_) {
    if (item.frame) {
      out.frames += item.text;
    } else {
      out.items.push_back(std::move(item.text));
    }
  }
  items_.clear();
  frames_ = 0;
  out.lost = std::exchange(lost_, 0);
  out.closed = closed_ || abandoned_;
  pending_bytes_ = 0;
  return out;
}

SseChannel::Taken SseChannel::take_frames(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, deadline, [&] { return frames_ > 0 || lost_ > 0 || closed_ || abandoned_; });
  Taken out;
  std::erase_if(items_, [&](Item& item) {
    if (!item.frame) return false;
    pending_bytes_ -= item.text.size();
    out.frames += item.text;
    return true;
  });
  frames_ = 0;
  out.lost = std::exchange(lost_, 0);
  out.closed = abandoned_ || (closed_ && items_.empty());
  return out;
}

void SseChannel::abandon() {
  {
    std::lock_guard lock(mu_);
    abandoned_ = true;
    items_.clear();
    frames_ = 0;
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
