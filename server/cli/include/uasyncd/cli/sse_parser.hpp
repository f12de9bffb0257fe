// An incremental reader of a Server-Sent Events stream (the WHATWG event-stream format): bytes go
// in as the network delivers them, whole events come out.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace uasyncd::cli {

struct SseEvent {
  std::string event;     // the "event:" field; empty means the default, "message"
  std::string data;      // the "data:" lines, joined with '\n'
  bool comment = false;  // a ":" line, such as the daemon's ": connected" (text in data)
};

// One instance per stream, used by one thread at a time.
class SseParser {
 public:
  // An event (or comment) larger than `max_event_bytes` makes feed() throw CliError, so a hostile
  // or broken server cannot grow the client without bound.
  explicit SseParser(std::size_t max_event_bytes = std::size_t{64} << 20)
      : max_event_bytes_(max_event_bytes) {}

  using Handler = std::function<bool(const SseEvent&)>;
  // Takes the next bytes of the stream and calls `on_event` for every event they complete, in
  // order. Returns false as soon as `on_event` does (the rest of `bytes` is then dropped).
  bool feed(std::string_view bytes, const Handler& on_event);

 private:
  bool line(std::string_view text, const Handler& on_event);

  std::size_t max_event_bytes_;
  std::string partial_;   // an unfinished line
  bool skip_lf_ = false;  // the last byte was '\r': a '\n' right after it ends no new line
  SseEvent event_;
  bool has_data_ = false;
};

}  // namespace uasyncd::cli
