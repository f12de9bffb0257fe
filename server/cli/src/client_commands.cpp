#include "uasyncd/cli/client_commands.hpp"

#include <unistd.h>

#include <exception>

#include "uasyncd/cli/command.hpp"
#include "uasyncd/cli/exit_codes.hpp"
#include "uasyncd/cli/safe_text.hpp"

namespace uasyncd::cli {
namespace {

constexpr const char* kFooter =
    R"(Client commands talk to a running daemon (--url, default http://127.0.0.1:8080).
--url, --token, -o and --quiet may come before or after the command's name.

Exit codes of the client commands:
  0    done (the task ended done, or the command succeeded)
  1    the task failed (or was interrupted)
  2    usage error (bad flags, arguments or spec file)
  3    cannot reach the daemon, or it answered an error (its message on stderr)
  124  the task timed out (or `wait --timeout` gave up first)
  130  the task was cancelled
  `run` exits with the command's own code (124 timed out, 130 cancelled).)";

}  // namespace

ClientCommands::ClientCommands(CLI::App& app) : app_(app), url_(kDefaultUrl) {
  app.add_option("--url", url_, "the daemon's address, http://host:port or https://host:port")
      ->envname("UASYNCD_URL")
      ->group("Client options");
  token_ = app.get_option_no_throw("--token");
  if (token_ == nullptr) {
    token_ = app.add_option("--token", own_token_, "the daemon's API token (Bearer)")
                 ->envname("UASYNCD_TOKEN")
                 ->group("Client options");
  }
  app.add_option("-o,--output", output_,
                 "table, json or jsonl (default: table on a terminal, json when piped)")
      ->check(CLI::IsMember({"table", "json", "jsonl"}))
      ->group("Client options");
  app.add_flag("-q,--quiet", quiet_, "print only ids and results: no progress, no notes")
      ->group("Client options");

  const auto add = [&](std::unique_ptr<Command> (*make)(CLI::App&)) {
    commands_.push_back(make(app));
  };
  add(add_submit_command);
  add(add_run_command);
  add(add_ls_command);
  add(add_show_command);
  add(add_wait_command);
  add(add_cancel_command);
  add(add_timeout_command);
  add(add_logs_command);
  add(add_rm_command);
  add(add_stats_command);
  add(add_events_command);
  add(add_schedule_command);
  add(add_queue_command);
  add(add_completion_command);
  app.footer(kFooter);
  app.require_subcommand(0, 1);  // `uasyncd serve ls` is a mistake, not two commands
}

ClientCommands::~ClientCommands() = default;

bool ClientCommands::selected() const {
  for (const auto& command : commands_) {
    if (command->subcommand()->parsed()) return true;
  }
  return false;
}

int ClientCommands::run() {
  try {
    const std::string token = token_->count() > 0 ? token_->as<std::string>() : std::string();
    Context ctx{parse_daemon_url(url_), token,
                Output(parse_format(output_), quiet_, Terminal::detect())};
    for (const auto& command : commands_) {
      if (command->subcommand()->parsed()) return command->run(ctx);
    }
    return kExitUsage;
  } catch (const CliError& e) {
    write_all(STDERR_FILENO, "uasyncd: " + std::string(e.what()) + "\n");
    return e.code();
  } catch (const nlohmann::json::exception& e) {
    write_all(STDERR_FILENO,
              "uasyncd: unexpected answer from the daemon (" + printable(e.what()) + ")\n");
    return kExitDaemon;
  } catch (const std::exception& e) {
    write_all(STDERR_FILENO, "uasyncd: " + printable(e.what()) + "\n");
    return kExitFailed;
  }
}

int exit_for_parse_error(const CLI::App& app, const CLI::ParseError& error) {
  const int code = app.exit(error);
  return code == 0 ? 0 : kExitUsage;
}

}  // namespace uasyncd::cli
