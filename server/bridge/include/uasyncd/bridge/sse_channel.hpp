// A one-way queue from the loop thread to one Server-Sent Events connection. The loop pushes
// and never waits; the HTTP thread serving the connection blocks in take(). Shared (shared_ptr)
// by the two sides; either may outlive the other. The queue is
// bounded: a reader that falls behind loses items (counted) rather than growing the daemon.
// It carries items (JSON values a batched stream sends as arrays, or frames of a stream that is
// not batched) and frames (ready SSE events a batched stream sends at once, between batches).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace uasyncd::server {

class SseChannel {
 public:
  explicit SseChannel(std::size_t max_pending_bytes = 8 << 20)
      : max_pending_bytes_(max_pending_bytes) {}
  SseChannel(const SseChannel&) = delete;
  SseChannel& operator=(const SseChannel&) = delete;

  // Producer side. push() returns false once the reader has gone: the producer drops the channel.
  bool push(std::string item);
  bool push_frame(std::string frame);
  // No more items: the reader sees the stream end after the ones queued.
  void close();
  bool abandoned() const;

  struct Taken {
    std::vector<std::string> items;
    std::string frames;    // every frame taken, in order
    std::size_t lost = 0;  // items dropped since the last take because the reader was too slow
    bool closed = false;   // close() was called and every item has now been taken
  };
  // Reader side: waits until `deadline` for an item or the close, then takes everything queued.
  Taken take(std::chrono::steady_clock::time_point deadline);
  // Waits until `deadline` for a frame or the close, then takes the frames only (items wait for
  // the next take()).
  Taken take_frames(std::chrono::steady_clock::time_point deadline);
  // The reader hung up (or the server is stopping): pushes are refused, take() returns at once.
  void abandon();

 private:
  const std::size_t max_pending_bytes_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  struct Item {
    std::string text;
    bool frame = false;
  };
  bool add(std::string text, bool frame);

  std::vector<Item> items_;
  std::size_t frames_ = 0;  // of items_
  std::size_t pending_bytes_ = 0;
  std::size_t lost_ = 0;
  bool closed_ = false;
  bool abandoned_ = false;
};

// One SSE event: "event: <name>\ndata: <json>\n\n" (JSON has no raw newlines, so one data line;
// invalid UTF-8 from a process's output is replaced, not fatal).
std::string sse_frame(std::string_view event, const nlohmann::json& data);

}  // namespace uasyncd::server
