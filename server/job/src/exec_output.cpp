#include "uasyncd/job/exec_output.hpp"

#include <algorithm>
#include <utility>

namespace uasyncd::server {

std::string_view StreamCapture::append(std::string_view data) {
  bytes_ += data.size();
  tail_.append(data);
  if (tail_.size() > 2 * kTailBytes) tail_.erase(0, tail_.size() - kTailBytes);
  const std::size_t room = kOutputCap - kept_.size();
  const std::string_view fits = data.substr(0, std::min(room, data.size()));
  kept_.append(fits);
  return fits;
}

std::string StreamCapture::tail() const {
  return tail_.size() <= kTailBytes ? tail_ : tail_.substr(tail_.size() - kTailBytes);
}

void StreamCapture::restore(std::string kept, std::string tail, std::uint64_t bytes) {
  kept_ = std::move(kept);
  tail_ = std::move(tail);
  bytes_ = bytes;
  published = kept_.size();
}

nlohmann::json ExecOutput::result_json() const {
  nlohmann::json j{{"exit_code", exit_code ? nlohmann::json(*exit_code) : nlohmann::json(nullptr)},
                   {"signal", term_signal != 0 ? nlohmann::json(term_signal) : nullptr},
                   {"stdout", out.tail()},
                   {"stderr", err.tail()},
                   {"stdout_truncated", out.truncated()},
                   {"stderr_truncated", err.truncated()}};
  return j;
}

nlohmann::json ExecOutput::output_json() const {
  nlohmann::json j = result_json();
  j["pid"] = pid;
  j["running"] = running;
  j["stdout"] = out.kept();
  j["stderr"] = err.kept();
  j["stdout_bytes"] = out.bytes();
  j["stderr_bytes"] = err.bytes();
  return j;
}

std::size_t utf8_complete_prefix(std::string_view data) {
  // Look back over at most three continuation bytes for the lead byte of the last sequence.
  const std::size_t n = data.size();
  for (std::size_t back = 1; back <= std::min<std::size_t>(4, n); ++back) {
    const auto c = static_cast<unsigned char>(data[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte
    std::size_t need = 1;
    if ((c & 0xE0) == 0xC0) {
      need = 2;
    } else if ((c & 0xF0) == 0xE0) {
      need = 3;
    } else if ((c & 0xF8) == 0xF0) {
      need = 4;
    }
    return back < need ? n - back : n;
  }
  return n;  // not UTF-8 at all: nothing to wait for
}

}  // namespace uasyncd::server
