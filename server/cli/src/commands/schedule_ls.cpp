// `uasyncd schedule ls`: every schedule, by name (GET /api/schedules).
#include "uasyncd/cli/exit_codes.hpp"
#include "uasyncd/cli/json_output.hpp"
#include "uasyncd/cli/safe_text.hpp"
#include "uasyncd/cli/schedule_commands.hpp"
#include "uasyncd/cli/schedule_format.hpp"
#include "uasyncd/cli/table.hpp"
#include "uasyncd/cli/task_format.hpp"

namespace uasyncd::cli {
namespace {

class ScheduleLsCommand final : public Command {
 public:
  explicit ScheduleLsCommand(CLI::App& group) {
    subcommand_ = add_client_subcommand(group, "ls", "list the schedules and their next fires");
  }

  int run(const Context& ctx) override {
    const HttpReply reply = ctx.connect()->get("/api/schedules");
    const nlohmann::json schedules =
        reply.body.is_object() ? reply.body.value("schedules", nlohmann::json()) : nullptr;
    if (!schedules.is_array()) throw CliError(kExitDaemon, "unexpected answer from the daemon");
    // --quiet prints names (for xargs), unless -o asked for JSON outright.
    const bool names_only =
        ctx.out.quiet() && ctx.out.chosen().value_or(Format::table) == Format::table;
    const Format format = names_only ? Format::table : ctx.out.records();
    if (format != Format::table) {
      JsonListWriter list(ctx.out, format);
      for (const nlohmann::json& s : schedules)
        list.add(s);
      list.finish();
      return 0;
    }
    if (names_only) {
      std::string lines;
      for (const nlohmann::json& s : schedules)
        lines += printable(string_field(s, "name", "?")) + "\n";
      ctx.out.out(lines);
      return 0;
    }
    // Wide enough for any name (128): a cut name could not be given to `schedule show`.
    Table table({"NAME", "WHEN", "NEXT FIRE", "LAST RUN", "PAUSED"}, 128);
    for (const nlohmann::json& s : schedules) {
      const bool paused = s.is_object() && s.value("paused", nlohmann::json()) == true;
      table.add_row({{string_field(s, "name", "?")},
                     {schedule_when(s)},
                     {schedule_next_fire(s)},
                     schedule_last_run(s),
                     paused ? Cell{"yes", Color::yellow} : Cell{"no"}});
    }
    ctx.out.out(table.render(ctx.out));
    return 0;
  }
};

}  // namespace

std::unique_ptr<Command> add_schedule_ls_command(CLI::App& group) {
  return std::make_unique<ScheduleLsCommand>(group);
}

}  // namespace uasyncd::cli
