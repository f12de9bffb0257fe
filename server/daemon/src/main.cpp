// uasyncd: with no subcommand, serves (serve_command.hpp). Subcommands (a command-line client)
// are added to the same CLI::App here.
#include <CLI/CLI.hpp>

#include "uasyncd/daemon/serve_command.hpp"
#include "uasyncd/version.hpp"

int main(int argc, char** argv) {
  CLI::App app{"uasyncd: uasyncio tasks over HTTP"};
  uasyncd::server::ServeFlags serve;
  uasyncd::server::add_serve_flags(app, serve);
  app.set_version_flag("--version", uasyncd::server::kVersion);
  CLI11_PARSE(app, argc, argv);
  return uasyncd::server::serve(serve);
}
