#include "uasyncd/cli/progress_line.hpp"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <utility>

#include "uasyncd/cli/safe_text.hpp"

namespace uasyncd::cli {
namespace {

constexpr const char* kSpinner[] = {"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"};
constexpr std::chrono::milliseconds kRedraw{100};

}  // namespace

ProgressLine::ProgressLine(const Output& out, std::string id, std::size_t total_steps)
    : out_(out),
      id_(printable(id)),
      total_(total_steps),
      start_(std::chrono::steady_clock::now()),
      thread_([this] { draw_until_finished(); }) {}

ProgressLine::~ProgressLine() {
  finish();
}

void ProgressLine::step_ended(const std::string& step_id) {
  std::lock_guard lock(mu_);
  ended_.insert(step_id);
}

void ProgressLine::restart() {
  std::lock_guard lock(mu_);
  ended_.clear();
}

void ProgressLine::finish() {
  {
    std::lock_guard lock(mu_);
    finished_ = true;
  }
  finished_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ProgressLine::draw_until_finished() {
  std::unique_lock lock(mu_);
  for (std::size_t frame = 0; !finished_; ++frame) {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    char text[160];
    std::snprintf(text, sizeof text, "\r\x1b[K%s %s running · %zu/%zu steps · %.1fs",
                  kSpinner[frame % std::size(kSpinner)], id_.c_str(),
                  std::min(ended_.size(), total_), total_, elapsed);
    lock.unlock();
    out_.err(text);
    lock.lock();
    finished_cv_.wait_for(lock, kRedraw, [&] { return finished_; });
  }
  lock.unlock();
  out_.err("\r\x1b[K");
}

}  // namespace uasyncd::cli
