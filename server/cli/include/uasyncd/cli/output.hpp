// How the client prints: the -o choice and --quiet from the flags, and what the terminal allows
// (colours and progress only on a terminal, never with NO_COLOR).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace uasyncd::cli {

enum class Format { table, json, jsonl };

// "table", "json" or "jsonl"; nullopt for anything else.
std::optional<Format> parse_format(std::string_view text);

enum class Color { none, green, red, yellow, cyan, magenta, dim, bold };

// What the process is attached to.
struct Terminal {
  bool stdout_is_tty = false;
  bool stderr_is_tty = false;
  bool color_allowed = false;  // NO_COLOR is unset or empty, and TERM is not "dumb"

  static Terminal detect();
};

// Built once per command; read-only afterwards, so any thread may use it. Writes go straight to
// the file descriptors (no stdio buffer), so what the client prints keeps its order with the
// command output it streams.
class Output {
 public:
  Output(std::optional<Format> chosen, bool quiet, Terminal terminal)
      : chosen_(chosen), quiet_(quiet), terminal_(terminal) {}

  // The format for records and lists: -o if given, else table on a terminal, JSON when piped.
  Format records() const;
  // The format -o named, if any (streams of raw output use it to switch to JSON lines).
  std::optional<Format> chosen() const { return chosen_; }
  bool quiet() const { return quiet_; }
  bool color() const { return terminal_.stdout_is_tty && terminal_.color_allowed; }
  // Progress lines go to stderr, only when it is a terminal and --quiet is not given.
  bool progress() const { return terminal_.stderr_is_tty && !quiet_; }

  // `text` wrapped in the colour's escape sequences when colours are on.
  std::string paint(std::string_view text, Color color) const;

  void out(std::string_view text) const;
  void err(std::string_view text) const;
  // "uasyncd: <line>" on stderr, unless --quiet.
  void note(std::string_view line) const;

 private:
  std::optional<Format> chosen_;
  bool quiet_;
  Terminal terminal_;
};

// Writes all of `text` to `fd`, retrying short writes. A closed pipe ends the process by
// SIGPIPE as for any Unix filter; another error throws CliError.
void write_all(int fd, std::string_view text);

}  // namespace uasyncd::cli
