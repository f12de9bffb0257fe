#include "uasyncd/cli/spec_input.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "uasyncd/cli/command.hpp"
#include "uasyncd/cli/exit_codes.hpp"
#include "uasyncd/cli/resource_name.hpp"
#include "uasyncd/cli/safe_text.hpp"

namespace uasyncd::cli {
namespace {

// The daemon takes bodies up to 8 MiB (a batch; 1 MiB for one spec); a much larger input is a
// mistake, read no further.
constexpr std::size_t kMaxSpecBytes = std::size_t{16} << 20;

[[noreturn]] void refuse(const std::string& source, const std::string& why) {
  throw CliError(kExitUsage, printable(source) + ": " + why);
}

std::string read_all(int fd, const std::string& source) {
  std::string text;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      refuse(source, std::string("cannot read: ") + std::strerror(errno));
    }
    if (n == 0) return text;
    if (text.size() + static_cast<std::size_t>(n) > kMaxSpecBytes) {
      refuse(source, "larger than 16 MiB (the daemon takes up to 8 MiB of specs at once)");
    }
    text.append(buffer, static_cast<std::size_t>(n));
  }
}

std::string read_source(const std::string& source) {
  if (source.empty() || source == "-") {
    if (isatty(STDIN_FILENO) == 1) {
      throw CliError(kExitUsage, "no spec: give a file, or pipe one in on standard input");
    }
    return read_all(STDIN_FILENO, "standard input");
  }
  const int fd = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) refuse(source, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    refuse(source, "is a directory");
  }
  try {
    std::string text = read_all(fd, source);
    ::close(fd);
    return text;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

// "[json.exception.parse_error.101] parse error at line 1, ...": the bracket says nothing.
std::string parse_message(const nlohmann::json::parse_error& e) {
  std::string what = e.what();
  if (const std::size_t bracket = what.find("] "); bracket != std::string::npos) {
    what.erase(0, bracket + 2);
  }
  return what;
}

bool blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

// One document (an array: its elements), else JSON lines (one document per line).
void parse_specs(const std::string& text, const std::string& name,
                 std::vector<nlohmann::json>& out) {
  try {
    nlohmann::json doc = nlohmann::json::parse(text);
    if (doc.is_array()) {
      for (nlohmann::json& spec : doc)
        out.push_back(std::move(spec));
    } else {
      out.push_back(std::move(doc));
    }
    return;
  } catch (const nlohmann::json::parse_error& e) {
    std::size_t lines = 0;
    for (std::size_t at = 0; at < text.size();) {
      const std::size_t end = std::min(text.find('\n', at), text.size());
      if (!blank(std::string_view(text).substr(at, end - at))) ++lines;
      at = end + 1;
    }
    if (lines < 2) refuse(name, "not JSON: " + parse_message(e));
  }
  std::size_t line_no = 0;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    const std::string_view line = std::string_view(text).substr(at, end - at);
    at = end + 1;
    ++line_no;
    if (blank(line)) continue;
    try {
      out.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::parse_error& e) {
      refuse(name, "line " + std::to_string(line_no) + ": not JSON: " + parse_message(e));
    }
  }
}

}  // namespace

std::vector<nlohmann::json> read_specs(const std::vector<std::string>& sources) {
  std::vector<std::string> all = sources;
  if (all.empty()) all.emplace_back("-");
  const auto is_stdin = [](const std::string& s) { return s.empty() || s == "-"; };
  if (std::count_if(all.begin(), all.end(), is_stdin) > 1) {
    throw CliError(kExitUsage, "standard input ('-') can be given once");
  }
  std::vector<nlohmann::json> out;
  for (const std::string& source : all) {
    const std::string text = read_source(source);
    parse_specs(text, is_stdin(source) ? "standard input" : source, out);
  }
  if (out.empty()) throw CliError(kExitUsage, "no spec: the input holds none");
  return out;
}

void RootOverrides::add_flags(CLI::App& command) {
  name_flag_ = command.add_option("--name", name_, "the task's name (the spec's root \"name\")");
  timeout_flag_ = command
                      .add_option("--timeout", timeout_,
                                  "seconds the task may run before it ends timed_out (root "
                                  "\"timeout\")")
                      ->check(seconds_validator());
  retries_flag_ = command
                      .add_option("--retries", retries_,
                                  "re-runs after a failure, a timeout or an interruption, 0 to "
                                  "100 (root \"retries\")")
                      ->check(CLI::Range(0, 100));
  delay_flag_ = command
                    .add_option("--delay", delay_,
                                "seconds from now until the task may start; it is scheduled "
                                "until then (root \"delay\", at most 10 years)")
                    ->check(seconds_validator());
  at_flag_ = command
                 .add_option("--at", at_,
                             "when the task may start, an RFC 3339 time with an offset, like "
                             "2026-12-24T18:00:00+01:00 (root \"at\")")
                 ->excludes(delay_flag_);
  priority_flag_ = command
                       .add_option("--priority", priority_,
                                   "0 to 9: a pending task with a higher one starts first (root "
                                   "\"priority\", default 0)")
                       ->check(CLI::Range(0, 9));
  queue_flag_ = command
                    .add_option("--queue", queue_,
                                "the named queue the task waits and runs in (root \"queue\", "
                                "default \"default\")")
                    ->check(resource_name_validator("queue"));
}

void RootOverrides::apply(nlohmann::json& spec) const {
  if (!spec.is_object()) throw CliError(kExitUsage, "a spec must be a JSON object");
  if (name_flag_ != nullptr && name_flag_->count() > 0) spec["name"] = name_;
  if (timeout_flag_ != nullptr && timeout_flag_->count() > 0) spec["timeout"] = timeout_;
  if (retries_flag_ != nullptr && retries_flag_->count() > 0) spec["retries"] = retries_;
  if (delay_flag_ != nullptr && delay_flag_->count() > 0) {
    spec.erase("at");
    spec["delay"] = delay_;
  }
  if (at_flag_ != nullptr && at_flag_->count() > 0) {
    spec.erase("delay");
    spec["at"] = at_;
  }
  if (priority_flag_ != nullptr && priority_flag_->count() > 0) spec["priority"] = priority_;
  if (queue_flag_ != nullptr && queue_flag_->count() > 0) spec["queue"] = queue_;
}

}  // namespace uasyncd::cli
