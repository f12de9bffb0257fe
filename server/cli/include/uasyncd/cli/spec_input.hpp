// What a command submits: specs read from a file or standard input, and the root keys its flags
// set over them (--name, --timeout, --retries).
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

// Root keys set by flags, over what the spec says. To add a root flag (--delay, --at, --queue,
// --priority): one member, one line in add_flags, one in apply.
class RootOverrides {
 public:
  // Adds --name, --timeout and --retries to `command`. The object must outlive the parse.
  void add_flags(CLI::App& command);
  // Sets the keys given on the command line. A spec that is not a JSON object throws
  // CliError(kExitUsage).
  void apply(nlohmann::json& spec) const;

 private:
  std::string name_;
  double timeout_ = 0;
  int retries_ = 0;
  CLI::Option* name_flag_ = nullptr;
  CLI::Option* timeout_flag_ = nullptr;
  CLI::Option* retries_flag_ = nullptr;
};

}  // namespace uasyncd::cli
