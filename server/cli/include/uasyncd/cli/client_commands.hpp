// The command-line client inside the `uasyncd` binary: main() builds its CLI11 app with the
// daemon's flags, lets this add the client's commands and options, parses, and then either runs
// the client command that was chosen or serves.
//
//   CLI::App app{...};                         // the daemon's flags, and a "serve" subcommand
//   uasyncd::cli::ClientCommands client(app);
//   try { app.parse(argc, argv); }
//   catch (const CLI::ParseError& e) { return uasyncd::cli::exit_for_parse_error(app, e); }
//   if (client.selected()) return client.run();
//   ... serve ...
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

namespace uasyncd::cli {

class Command;

// Lives as long as the app it was given, on main's thread.
class ClientCommands {
 public:
  // Adds the commands (submit, run, ls, show, wait, cancel, timeout, logs, rm, stats, events,
  // schedule, queue, completion) and the options they share: --url/UASYNCD_URL, -o/--output,
  // -q/--quiet, and --token/UASYNCD_TOKEN, which is the app's own --token when it has one (serve
  // requires the token the client sends). Sets the help footer that lists the exit codes.
  explicit ClientCommands(CLI::App& app);
  ~ClientCommands();
  ClientCommands(const ClientCommands&) = delete;
  ClientCommands& operator=(const ClientCommands&) = delete;

  // After the parse: whether a client command was given (else the app serves).
  bool selected() const;
  // Runs the command that was given and returns the process's exit code; errors are printed
  // on stderr as one line.
  int run();

 private:
  CLI::App& app_;
  std::string url_;
  std::string output_;
  bool quiet_ = false;
  std::string own_token_;
  CLI::Option* token_ = nullptr;
  std::vector<std::unique_ptr<Command>> commands_;
};

// What main returns for a failed parse: 0 for --help and --version (printed as CLI11 does),
// else 2, the usage error, after CLI11's message.
int exit_for_parse_error(const CLI::App& app, const CLI::ParseError& error);

}  // namespace uasyncd::cli
