// `uasyncd` with no subcommand: serve. Its flags (each also a UASYNCD_* environment variable),
// their checks, the health probe, logging and signal handling around the Daemon. main() adds the
// flags to its CLI::App and calls serve(); other subcommands (a client) can sit beside it.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "uasyncd/daemon/daemon.hpp"

namespace uasyncd::server {

struct ServeFlags {
  DaemonOptions options;
  std::string listen = "127.0.0.1:8080";
  std::string log_level = "info";
  std::string data_dir;  // empty: ./data, or none with --database-url
  std::string database_url;
  bool ephemeral = false;
  std::string sync = "full";
  std::string keep_for;  // a duration (duration.hpp); empty: no age limit
  bool healthcheck = false;
  std::vector<std::string> queues;  // --queue NAME=N
};

void add_serve_flags(CLI::App& app, ServeFlags& flags);
// Runs the daemon until SIGTERM or SIGINT (or probes one, with --healthcheck); the exit code.
int serve(ServeFlags& flags);

}  // namespace uasyncd::server
