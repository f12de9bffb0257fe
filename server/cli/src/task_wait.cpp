#include "uasyncd/cli/task_wait.hpp"

#include <algorithm>
#include <cstdio>

namespace uasyncd::cli {
namespace {

// The daemon caps one long-poll at 300 s; a longer wait is a loop of them.
constexpr std::chrono::milliseconds kMaxSlice{300'000};

}  // namespace

WaitOutcome wait_for_task(Connection& connection, const std::string& id,
                          std::optional<std::chrono::steady_clock::time_point> deadline) {
  using Clock = std::chrono::steady_clock;
  const std::string path = "/api/tasks/" + path_segment(id) + "/wait?timeout=";
  for (;;) {
    auto slice = kMaxSlice;
    if (deadline) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now());
      slice = std::clamp(left, std::chrono::milliseconds(0), kMaxSlice);
    }
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.3f", static_cast<double>(slice.count()) / 1000.0);
    const auto read_timeout =
        std::chrono::duration_cast<std::chrono::seconds>(slice) + Connection::kReadTimeout;
    HttpReply reply = connection.get(path + seconds, {200, 202}, read_timeout);
    if (reply.status == 200) return {std::move(reply.body), true};
    if (deadline && Clock::now() >= *deadline) return {std::move(reply.body), false};
  }
}

}  // namespace uasyncd::cli
