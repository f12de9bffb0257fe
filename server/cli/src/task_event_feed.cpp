#include "uasyncd/cli/task_event_feed.hpp"

#include <exception>
#include <utility>

#include "uasyncd/cli/task_format.hpp"

namespace uasyncd::cli {
namespace {

constexpr std::size_t kMaxEarlyEvents = 10'000;

}  // namespace

TaskEventFeed::TaskEventFeed(const DaemonUrl& url, const std::string& token,
                             std::function<void(const nlohmann::json&)> on_event)
    : connection_(url, token), on_event_(std::move(on_event)), thread_([this] { read(); }) {}

TaskEventFeed::~TaskEventFeed() {
  stop();
}

void TaskEventFeed::stop() {
  connection_.stop();
  if (thread_.joinable()) thread_.join();
}

bool TaskEventFeed::await_subscribed(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  changed_.wait_for(lock, timeout, [&] { return subscribed_ || ended_; });
  return subscribed_;
}

void TaskEventFeed::watch(const std::string& id) {
  // Under the lock, so the feed's thread cannot deliver a newer event before the early ones.
  std::lock_guard lock(mu_);
  id_ = id;
  for (const nlohmann::json& event : early_)
    deliver(event);
  early_.clear();
}

bool TaskEventFeed::await_finished(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  changed_.wait_for(lock, timeout, [&] { return finished_ || ended_; });
  return finished_;
}

void TaskEventFeed::deliver(const nlohmann::json& event) {
  const std::string type = string_field(event, "type");
  if (type != "lost" && string_field(event, "id") != *id_) return;
  on_event_(event);
  if (type == "finished") {
    finished_ = true;
    changed_.notify_all();
  }
}

void TaskEventFeed::take(const nlohmann::json& event) {
  std::lock_guard lock(mu_);
  if (!id_) {
    if (early_.size() == kMaxEarlyEvents) early_.pop_front();
    early_.push_back(event);
    return;
  }
  deliver(event);
}

void TaskEventFeed::read() {
  try {
    connection_.stream("/api/events", [&](const SseEvent& e) {
      if (e.comment) {
        if (e.data == "connected") {
          std::lock_guard lock(mu_);
          subscribed_ = true;
          changed_.notify_all();
        }
        return true;
      }
      const nlohmann::json data = nlohmann::json::parse(e.data, nullptr, false);
      if (e.event == "lost") {
        const nlohmann::json n = data.is_object() ? data.value("lost", nlohmann::json(0)) : 0;
        take({{"type", "lost"}, {"lost", n}});
      } else if (data.is_array()) {
        for (const nlohmann::json& event : data)
          take(event);
      }
      return true;
    });
  } catch (const std::exception&) {
    // No events is no progress: the task itself is waited for by other means.
  }
  std::lock_guard lock(mu_);
  ended_ = true;
  changed_.notify_all();
}

}  // namespace uasyncd::cli
