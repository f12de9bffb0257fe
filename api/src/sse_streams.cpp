#include "uasyncd/api/sse_streams.hpp"

#include <algorithm>
#include <string>
#include <utility>

namespace uasyncd::api {
namespace {

// How long a stream's handler blocks at most before it looks at the stop flag again.
constexpr std::chrono::milliseconds kSlice{200};

}  // namespace

struct SseStreams::State {
  std::shared_ptr<server::SseChannel> channel;
  bool batched = false;
  bool greeted = false;
  std::chrono::steady_clock::time_point last_write;
  std::chrono::steady_clock::time_point next_batch;
};

bool SseStreams::open() {
  if (closed_ || open_.fetch_add(1) >= options_.max_streams) {
    if (!closed_) --open_;
    return false;
  }
  return true;
}

void SseStreams::serve(httplib::Response& res, std::shared_ptr<server::SseChannel> channel,
                       bool batched, std::function<void()> on_end) {
  auto state = std::make_shared<State>();
  state->channel = std::move(channel);
  state->batched = batched;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");  // nginx: pass events on as they come
  // cpp-httplib calls the provider again and again on this thread until it calls done() or
  // returns false; each call blocks for at most a slice, so a stopping server is noticed.
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, state](std::size_t, httplib::DataSink& sink) { return pump(*state, sink); },
      [this, state, on_end = std::move(on_end)](bool) {
        state->channel->abandon();
        if (on_end) on_end();
        --open_;
      });
}

bool SseStreams::pump(State& st, httplib::DataSink& sink) {
  using Clock = std::chrono::steady_clock;
  const auto write = [&sink](const std::string& text) {
    return sink.write(text.data(), text.size());
  };
  auto now = Clock::now();
  if (!st.greeted) {
    // Sent at once, so a client knows the subscription is in place.
    st.greeted = true;
    st.last_write = now;
    return write(": connected\n\n");
  }
  if (closed_) {
    sink.done();
    return true;
  }
  // Looked at every slice: the client left, so the stream ends and its slot is free.
  if (!sink.is_writable()) return false;
  if (st.batched && now < st.next_batch) {
    // Between batches, frames (followed output) still go out as they come.
    server::SseChannel::Taken taken =
        st.channel->take_frames(std::min(st.next_batch, now + kSlice));
    std::string out;
    if (taken.lost > 0) out += server::sse_frame("lost", {{"lost", taken.lost}});
    out += taken.frames;
    if (!out.empty()) {
      if (!write(out)) return false;
      st.last_write = Clock::now();
    }
    if (taken.closed) sink.done();
    return true;
  }
  server::SseChannel::Taken taken = st.channel->take(now + std::min(kSlice, options_.keepalive));
  now = Clock::now();
  std::string out;
  if (taken.lost > 0) out += server::sse_frame("lost", {{"lost", taken.lost}});
  out += taken.frames;
  if (!taken.items.empty()) {
    if (st.batched) {
      out += "data: [";
      for (std::size_t i = 0; i < taken.items.size(); ++i) {
        if (i > 0) out += ',';
        out += taken.items[i];
      }
      out += "]\n\n";
      st.next_batch = now + options_.batch_interval;
    } else {
      for (const std::string& item : taken.items)
        out += item;
    }
  }
  if (out.empty() && now - st.last_write >= options_.keepalive) out = ": keepalive\n\n";
  if (!out.empty()) {
    if (!write(out)) return false;
    st.last_write = now;
  }
  if (taken.closed) sink.done();
  return true;
}

}  // namespace uasyncd::api
