// One client command (`uasyncd submit`, `uasyncd ls`, ...): it adds its subcommand and flags to
// the CLI11 app when made, and runs with the options every command shares.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "uasyncd/cli/connection.hpp"
#include "uasyncd/cli/daemon_url.hpp"
#include "uasyncd/cli/output.hpp"

namespace uasyncd::cli {

// The options every command shares (--url, --token, -o, --quiet), checked. Read-only.
struct Context {
  DaemonUrl url;
  std::string token;
  Output out;

  // A new connection to the daemon; one per thread that talks to it.
  std::unique_ptr<Connection> connect() const;
};

// A command is made before the parse (its flags are bound to its members) and run after it, on
// the main thread. run() returns the exit code, or throws CliError.
class Command {
 public:
  virtual ~Command() = default;
  virtual int run(const Context& ctx) = 0;
  // The subcommand this command runs for (owned by the app).
  CLI::App* subcommand() const { return subcommand_; }

 protected:
  CLI::App* subcommand_ = nullptr;  // set by the derived constructor
};

// Each adds its subcommand to `app` (with fallthrough, so the shared options may follow it).
std::unique_ptr<Command> add_submit_command(CLI::App& app);
std::unique_ptr<Command> add_run_command(CLI::App& app);
std::unique_ptr<Command> add_ls_command(CLI::App& app);
std::unique_ptr<Command> add_show_command(CLI::App& app);
std::unique_ptr<Command> add_wait_command(CLI::App& app);
std::unique_ptr<Command> add_cancel_command(CLI::App& app);
std::unique_ptr<Command> add_timeout_command(CLI::App& app);
std::unique_ptr<Command> add_logs_command(CLI::App& app);
std::unique_ptr<Command> add_rm_command(CLI::App& app);
std::unique_ptr<Command> add_stats_command(CLI::App& app);
std::unique_ptr<Command> add_events_command(CLI::App& app);
// Groups: `schedule add|ls|show|rm|pause|resume|trigger` and `queue ls|set`.
std::unique_ptr<Command> add_schedule_command(CLI::App& app);
std::unique_ptr<Command> add_queue_command(CLI::App& app);
// Reads `app`'s other subcommands and flags when it runs, to write a completion script.
std::unique_ptr<Command> add_completion_command(CLI::App& app);

// A subcommand of the client's, set up as they all are.
CLI::App* add_client_subcommand(CLI::App& app, const std::string& name,
                                const std::string& description);

// Prints `record` (one object) when -o, or a pipe, asks for JSON; returns false, printing
// nothing, when the record is for a table.
bool print_json_record(const Context& ctx, const nlohmann::json& record);

// Checks a flag's value is a finite number of seconds, 0 or more ("inf" and "nan" are not).
CLI::Validator seconds_validator();

// For commands that act on each of several ids (cancel, rm): runs `act` for each in turn and
// prints its reply: in a table as `line(reply, id)`, else as JSON (an array when several ids were
// given). A refused id is reported on stderr and the rest still run; the exit code is then 3.
int act_on_each(const Context& ctx, const std::vector<std::string>& ids,
                const std::function<nlohmann::json(Connection&, const std::string&)>& act,
                const std::function<std::string(const nlohmann::json&, const std::string&)>& line);

}  // namespace uasyncd::cli
