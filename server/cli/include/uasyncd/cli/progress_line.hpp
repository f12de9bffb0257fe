// The line `submit --wait` keeps redrawing on a terminal while it waits:
//   ⠹ t3 running · 3/7 steps · 2.4s
// Drawn on stderr, only when Output::progress() says stderr is a terminal.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "uasyncd/cli/output.hpp"

namespace uasyncd::cli {

// Redraws every 100 ms on a thread of its own, from the constructor until finish() (or the
// destructor), which erases the line. step_ended and restart may be called from any thread.
class ProgressLine {
 public:
  ProgressLine(const Output& out, std::string id, std::size_t total_steps);
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Step `step_id` reached a final state (counted once however often it is told).
  void step_ended(const std::string& step_id);
  // The task started again (a retry): its steps run anew.
  void restart();
  void finish();

 private:
  void draw_until_finished();

  const Output& out_;
  const std::string id_;
  const std::size_t total_;
  const std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::condition_variable finished_cv_;
  bool finished_ = false;
  std::set<std::string> ended_;
  std::thread thread_;
};

}  // namespace uasyncd::cli
