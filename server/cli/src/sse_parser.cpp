#include "uasyncd/cli/sse_parser.hpp"

#include "uasyncd/cli/exit_codes.hpp"

namespace uasyncd::cli {

bool SseParser::feed(std::string_view bytes, const Handler& on_event) {
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    if (skip_lf_) {
      skip_lf_ = false;
      if (bytes[pos] == '\n') {
        ++pos;
        continue;
      }
    }
    const std::size_t end = bytes.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) {
      partial_.append(bytes.substr(pos));
      if (partial_.size() + event_.data.size() > max_event_bytes_) {
        throw CliError(kExitDaemon, "an event from the daemon is larger than the client accepts");
      }
      return true;
    }
    bool keep_going = true;
    if (partial_.empty()) {
      keep_going = line(bytes.substr(pos, end - pos), on_event);
    } else {
      partial_.append(bytes.substr(pos, end - pos));
      const std::string whole = std::move(partial_);
      partial_.clear();
      keep_going = line(whole, on_event);
    }
    skip_lf_ = bytes[end] == '\r';
    pos = end + 1;
    if (!keep_going) return false;
  }
  return true;
}

bool SseParser::line(std::string_view text, const Handler& on_event) {
  if (text.empty()) {  // a blank line ends the event
    if (!has_data_) {
      event_ = SseEvent{};
      return true;
    }
    SseEvent out = std::move(event_);
    event_ = SseEvent{};
    has_data_ = false;
    return on_event(out);
  }
  if (text.front() == ':') {
    SseEvent comment;
    comment.comment = true;
    comment.data = std::string(text.substr(text.size() > 1 && text[1] == ' ' ? 2 : 1));
    return on_event(comment);
  }
  const std::size_t colon = text.find(':');
  const std::string_view field = text.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = text.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "event") {
    event_.event = std::string(value);
  } else if (field == "data") {
    if (has_data_) event_.data += '\n';
    event_.data.append(value);
    has_data_ = true;
    if (event_.data.size() > max_event_bytes_) {
      throw CliError(kExitDaemon, "an event from the daemon is larger than the client accepts");
    }
  }
  // "id" and "retry" fields, and unknown ones, are ignored: the daemon sends neither.
  return true;
}

}  // namespace uasyncd::cli
