// uasyncd: with no subcommand (or `serve`), serves (serve_command.hpp); the other subcommands are
// the command-line client (server/cli), on the same CLI::App.
#include <CLI/CLI.hpp>

#include <optional>

#include "uasyncd/cli/client_commands.hpp"
#include "uasyncd/daemon/serve_command.hpp"
#include "uasyncd/exec/supervisor_main.hpp"
#include "uasyncd/version.hpp"

int main(int argc, char** argv) {
  // The exec supervisor is this binary run again with a hidden first argument: checked before
  // any flag or subcommand is parsed (nor threads started), so it can clash with neither.
  if (std::optional<int> code = uasyncd::exec::run_supervisor_if_requested(argc, argv)) {
    return *code;
  }
  CLI::App app{"uasyncd: uasyncio tasks over HTTP"};
  uasyncd::server::ServeFlags serve;
  // Always this binary's own code, even after its file was replaced by an upgrade.
  serve.options.exec_supervisor = "/proc/self/exe";
  uasyncd::server::add_serve_flags(app, serve);
  app.set_version_flag("--version", uasyncd::server::kVersion);
  // With no command (or only flags) uasyncd serves, as it always has; "serve" says so.
  app.add_subcommand("serve", "run the daemon (what uasyncd does when no command is given)")
      ->fallthrough();
  // After --token: the client commands share it.
  uasyncd::cli::ClientCommands client(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return uasyncd::cli::exit_for_parse_error(app, e);
  }
  if (client.selected()) return client.run();
  return uasyncd::server::serve(serve);
}
