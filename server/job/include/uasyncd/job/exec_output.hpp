// What an exec step's process wrote: each stream kept up to a cap (so a chatty command cannot
// exhaust the daemon's memory), plus a rolling tail that always shows how the output ended.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace uasyncd::server {

inline constexpr std::size_t kOutputCap = 1 << 20;  // bytes kept per stream
inline constexpr std::size_t kTailBytes = 4096;     // bytes of each tail in the step's result

class StreamCapture {
 public:
  // Keeps what still fits under the cap and returns that part (empty once the cap is reached).
  std::string_view append(std::string_view data);
  const std::string& kept() const { return kept_; }
  std::uint64_t bytes() const { return bytes_; }
  bool truncated() const { return bytes_ > kept_.size(); }
  // The last kTailBytes bytes written, whether or not they were kept.
  std::string tail() const;
  // What a store kept of a finished stream, brought back after a restart: all of it counts as
  // already published, since no live reader can have seen it.
  void restore(std::string kept, std::string tail, std::uint64_t bytes);

  // Bytes of kept() already passed on to live readers (a split UTF-8 sequence waits).
  std::size_t published = 0;

 private:
  std::string kept_;
  std::string tail_;  // grows to twice kTailBytes before it is trimmed, so trimming is rare
  std::uint64_t bytes_ = 0;
};

struct ExecOutput {
  int pid = 0;
  bool running = false;  // its process group may still need a signal
  // Written to the store since the process ended (or read back from it): a later write of the
  // job leaves it out, so each step's output is written once (store/job_row.hpp).
  bool stored = false;
  std::optional<int> exit_code;
  int term_signal = 0;
  StreamCapture out;
  StreamCapture err;

  StreamCapture& stream(bool is_stderr) { return is_stderr ? err : out; }
  const StreamCapture& stream(bool is_stderr) const { return is_stderr ? err : out; }
  // The step's result: exit code and the tails of both streams.
  nlohmann::json result_json() const;
  // What GET .../output shows: everything kept, with byte counts.
  nlohmann::json output_json() const;
};

// How much of `data` can be sent without splitting a UTF-8 sequence at its end (a split one is
// held back until the rest arrives, so a streamed chunk never shows a replacement character).
std::size_t utf8_complete_prefix(std::string_view data);

}  // namespace uasyncd::server
