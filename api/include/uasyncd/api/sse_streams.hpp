// Server-Sent Events responses on cpp-httplib: a cap on streams open at once (each holds an
// HTTP thread), keepalive comments on quiet streams, batching for the event stream, and a prompt
// end of every stream at shutdown.
//
// Threads: HTTP threads; each stream is pumped by the thread of its request.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

#include "uasyncd/bridge/sse_channel.hpp"

namespace uasyncd::api {

struct SseOptions {
  std::size_t max_streams = 32;  // 503 past it
  // A comment line sent on a quiet stream, so proxies keep it and a gone client is noticed.
  std::chrono::milliseconds keepalive{15000};
  // A batched stream sends at most one batch per interval.
  std::chrono::milliseconds batch_interval{100};
};

class SseStreams {
 public:
  explicit SseStreams(SseOptions options) : options_(options) {}

  // Claims a slot for a stream; false past the cap or once closed.
  bool open();
  // Gives back a slot claimed by open() that is not served after all.
  void cancel() { --open_; }
  // Serves `channel` on `res` (the slot from open() is given back when the stream ends, and
  // `on_end` called). `batched`: items are JSON values, sent as arrays, at most one per batch
  // interval, and the channel's frames as they come; else items are SSE frames, sent as they
  // come.
  void serve(httplib::Response& res, std::shared_ptr<server::SseChannel> channel, bool batched,
             std::function<void()> on_end = {});
  // Ends every open stream within a fraction of a second, and refuses new ones: call before
  // stopping the server, which waits for its handler threads.
  void close_all() { closed_ = true; }
  std::size_t open_count() const { return open_.load(); }

 private:
  struct State;
  bool pump(State& state, httplib::DataSink& sink);

  SseOptions options_;
  std::atomic<std::size_t> open_{0};
  std::atomic<bool> closed_{false};
};

}  // namespace uasyncd::api
