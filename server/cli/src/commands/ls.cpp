// `uasyncd ls`: tasks newest first (GET /api/tasks), one page or, with --all, every page by
// following the cursors.
#include "uasyncd/cli/command.hpp"
#include "uasyncd/cli/exit_codes.hpp"
#include "uasyncd/cli/json_output.hpp"
#include "uasyncd/cli/safe_text.hpp"
#include "uasyncd/cli/table.hpp"
#include "uasyncd/cli/task_format.hpp"

namespace uasyncd::cli {
namespace {

// A scheduled task has not started: it shows when it will ("at ...").
std::string started_cell(const nlohmann::json& task, const std::string& state) {
  if (state == "scheduled") return "at " + format_time(task.value("run_at", nlohmann::json()));
  return format_time(task.value("started", nlohmann::json()));
}

class LsCommand final : public Command {
 public:
  explicit LsCommand(CLI::App& app) {
    subcommand_ = add_client_subcommand(app, "ls", "list tasks, newest first");
    subcommand_->add_option("--state", state_,
                            "only tasks in this state (scheduled, pending, running, done, "
                            "failed, cancelled, timed_out, interrupted)");
    subcommand_->add_option("--name", name_, "only tasks with this name");
    limit_flag_ =
        subcommand_
            ->add_option("--limit", limit_, "at most N tasks (1 to 1000); with --all, N a page")
            ->check(CLI::Range(1, 1000));
    subcommand_->add_flag("--all", all_, "every task, page after page");
  }

  int run(const Context& ctx) override {
    const std::unique_ptr<Connection> connection = ctx.connect();
    const int page = all_ && limit_flag_->count() == 0 ? 1000 : limit_;
    std::string query = "/api/tasks?limit=" + std::to_string(page);
    if (!state_.empty()) query += "&state=" + query_value(state_);
    if (!name_.empty()) query += "&name=" + query_value(name_);
    // --quiet prints ids, unless -o asked for JSON outright.
    const bool ids_only =
        ctx.out.quiet() && ctx.out.chosen().value_or(Format::table) == Format::table;
    const Format format = ids_only ? Format::table : ctx.out.records();
    JsonListWriter list(ctx.out, format);
    Table table({"ID", "NAME", "KIND", "STATE", "STARTED", "DURATION"});
    nlohmann::json cursor;
    do {
      const std::string target =
          cursor.is_string() ? query + "&cursor=" + query_value(cursor.get<std::string>()) : query;
      const HttpReply reply = connection->get(target);
      const nlohmann::json tasks = reply.body.value("tasks", nlohmann::json::array());
      for (const nlohmann::json& t : tasks) {
        if (ids_only) {
          ctx.out.out(printable(string_field(t, "id", "?")) + "\n");
        } else if (format == Format::table) {
          const std::string state = string_field(t, "state", "?");
          table.add_row({{string_field(t, "id", "?")},
                         {string_field(t, "name")},
                         {string_field(t, "kind")},
                         {state, state_color(state)},
                         {started_cell(t, state)},
                         {format_duration(t.value("duration", nlohmann::json()))}});
        } else {
          list.add(t);
        }
      }
      nlohmann::json next = reply.body.value("next_cursor", nlohmann::json());
      if (next.is_string() && next == cursor) {
        throw CliError(kExitDaemon, "the daemon gave the same page cursor twice");
      }
      cursor = std::move(next);
    } while (all_ && cursor.is_string());
    if (ids_only) return 0;
    if (format != Format::table) {
      list.finish();
      return 0;
    }
    ctx.out.out(table.render(ctx.out));
    if (cursor.is_string()) ctx.out.note("more tasks: --all lists every one, --limit more of them");
    return 0;
  }

 private:
  std::string state_;
  std::string name_;
  int limit_ = 100;  // the daemon's default page
  bool all_ = false;
  CLI::Option* limit_flag_ = nullptr;
};

}  // namespace

std::unique_ptr<Command> add_ls_command(CLI::App& app) {
  return std::make_unique<LsCommand>(app);
}

}  // namespace uasyncd::cli
