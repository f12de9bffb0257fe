// What a command submits: specs read from a file or standard input, and the root keys its flags
// set over them (--name, --timeout, --retries, --delay, --at, --priority, --queue).
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace uasyncd::cli {

// The specs in `sources`, in order: files, or standard input for "-" or "" (once; none given:
// standard input; refused when stdin is a terminal, where it would wait for typing). Each source
// holds one JSON document (a JSON array: its elements, one spec each) or JSON lines (one spec per
// line, blank lines skipped). An unreadable file, text that is not JSON (naming the line), or no
// spec at all throws CliError(kExitUsage) naming the source.
std::vector<nlohmann::json> read_specs(const std::vector<std::string>& sources);

// Root keys set by flags, over what the spec says. To add a root flag: one member, one line in
// add_flags, one in apply.
class RootOverrides {
 public:
  // Adds --name, --timeout, --retries, --delay, --at (these two exclude each other),
  // --priority and --queue to `command`. The object must outlive the parse.
  void add_flags(CLI::App& command);
  // Sets the keys given on the command line (--delay drops the spec's "at", --at its "delay").
  // A spec that is not a JSON object throws CliError(kExitUsage).
  void apply(nlohmann::json& spec) const;

 private:
  std::string name_;
  double timeout_ = 0;
  int retries_ = 0;
  double delay_ = 0;
  std::string at_;
  int priority_ = 0;
  std::string queue_;
  CLI::Option* name_flag_ = nullptr;
  CLI::Option* delay_flag_ = nullptr;
  CLI::Option* at_flag_ = nullptr;
  CLI::Option* timeout_flag_ = nullptr;
  CLI::Option* retries_flag_ = nullptr;
  CLI::Option* priority_flag_ = nullptr;
  CLI::Option* queue_flag_ = nullptr;
};

}  // namespace uasyncd::cli
