#include "uasyncd/cli/output.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "uasyncd/cli/exit_codes.hpp"

namespace uasyncd::cli {

std::optional<Format> parse_format(std::string_view text) {
  if (text == "table") return Format::table;
  if (text == "json") return Format::json;
  if (text == "jsonl") return Format::jsonl;
  return std::nullopt;
}

Terminal Terminal::detect() {
  Terminal t;
  t.stdout_is_tty = isatty(STDOUT_FILENO) == 1;
  t.stderr_is_tty = isatty(STDERR_FILENO) == 1;
  const char* no_color = std::getenv("NO_COLOR");  // https://no-color.org: set and not empty
  const char* term = std::getenv("TERM");
  t.color_allowed = (no_color == nullptr || *no_color == '\0') &&
                    (term == nullptr || std::strcmp(term, "dumb") != 0);
  return t;
}

Format Output::records() const {
  if (chosen_) return *chosen_;
  return terminal_.stdout_is_tty ? Format::table : Format::json;
}

std::string Output::paint(std::string_view text, Color color) const {
  if (!this->color() || color == Color::none) return std::string(text);
  const char* code = "";
  switch (color) {
    case Color::green:
      code = "32";
      break;
    case Color::red:
      code = "31";
      break;
    case Color::yellow:
      code = "33";
      break;
    case Color::cyan:
      code = "36";
      break;
    case Color::magenta:
      code = "35";
      break;
    case Color::dim:
      code = "2";
      break;
    case Color::bold:
      code = "1";
      break;
    case Color::none:
      break;
  }
  return "\x1b[" + std::string(code) + "m" + std::string(text) + "\x1b[0m";
}

void Output::out(std::string_view text) const {
  write_all(STDOUT_FILENO, text);
}

void Output::err(std::string_view text) const {
  write_all(STDERR_FILENO, text);
}

void Output::note(std::string_view line) const {
  if (quiet_) return;
  err("uasyncd: " + std::string(line) + "\n");
}

void write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw CliError(kExitFailed, std::string("cannot write the output: ") + std::strerror(errno));
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace uasyncd::cli
