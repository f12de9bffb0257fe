// One task's transitions (submitted, started, each step's state, finished) taken from the
// daemon's event stream, GET /api/events, on a thread of its own. It subscribes before the task is
// submitted, so no transition is missed, and keeps what comes until it learns the task's id.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "uasyncd/cli/connection.hpp"

namespace uasyncd::cli {

// Lifetime: the thread starts in the constructor and is joined by stop() or the destructor,
// which must run on the thread that created the feed. `on_event` runs one call at a time under
// the feed's lock (so it must not call the feed): on the feed's thread, or in watch() for the
// events that came before it; never after stop() has returned.
class TaskEventFeed {
 public:
  // `on_event` gets each event of the watched task as the daemon sent it, or
  // {"type": "lost", "lost": N} when the daemon dropped N events of a reader that fell behind.
  TaskEventFeed(const DaemonUrl& url, const std::string& token,
                std::function<void(const nlohmann::json&)> on_event);
  ~TaskEventFeed();
  TaskEventFeed(const TaskEventFeed&) = delete;
  TaskEventFeed& operator=(const TaskEventFeed&) = delete;

  // True once the daemon has confirmed the subscription; false if it refused or could not be
  // reached, or `timeout` passed. Events that come after a true are all seen.
  bool await_subscribed(std::chrono::milliseconds timeout);
  // From now on `on_event` gets the events of task `id`, those that came before first.
  void watch(const std::string& id);
  // Waits until the watched task's "finished" event has been delivered (the daemon sends events
  // in batches, after the task's end is already known by other means), the stream has ended, or
  // `timeout` passed. True if the event came.
  bool await_finished(std::chrono::milliseconds timeout);
  void stop();

 private:
  void read();
  void take(const nlohmann::json& event);
  // Passes on an event of the watched task (or a "lost" one). Called with mu_ held.
  void deliver(const nlohmann::json& event);

  Connection connection_;
  std::function<void(const nlohmann::json&)> on_event_;
  std::mutex mu_;
  std::condition_variable changed_;
  bool subscribed_ = false;
  bool ended_ = false;
  bool finished_ = false;  // the watched task's "finished" event was delivered
  std::optional<std::string> id_;
  // Events before the id is known; bounded, as the stream carries every task's events.
  std::deque<nlohmann::json> early_;
  std::thread thread_;
};

}  // namespace uasyncd::cli
