// `uasyncd schedule trigger NAME`: one run now, outside the schedule's times
// (POST /api/schedules/{name}/trigger); prints the new task's id as submit does.
#include "uasyncd/cli/exit_codes.hpp"
#include "uasyncd/cli/json_output.hpp"
#include "uasyncd/cli/resource_name.hpp"
#include "uasyncd/cli/safe_text.hpp"
#include "uasyncd/cli/schedule_commands.hpp"
#include "uasyncd/cli/task_format.hpp"

namespace uasyncd::cli {
namespace {

class ScheduleTriggerCommand final : public Command {
 public:
  explicit ScheduleTriggerCommand(CLI::App& group) {
    subcommand_ = add_client_subcommand(
        group, "trigger", "submit a run of a schedule now, outside its times; print its id");
    subcommand_->add_option("name", name_, "the schedule's name")
        ->required()
        ->check(resource_name_validator("schedule"));
  }

  int run(const Context& ctx) override {
    const HttpReply reply =
        ctx.connect()->post("/api/schedules/" + path_segment(name_) + "/trigger", nullptr, {201});
    const std::string id = string_field(reply.body, "id");
    if (id.empty()) throw CliError(kExitDaemon, "the daemon's answer to the trigger has no id");
    const bool id_only =
        ctx.out.quiet() && ctx.out.chosen().value_or(Format::table) == Format::table;
    if (!id_only && print_json_record(ctx, reply.body)) return 0;
    ctx.out.out(printable(id) + "\n");
    return 0;
  }

 private:
  std::string name_;
};

}  // namespace

std::unique_ptr<Command> add_schedule_trigger_command(CLI::App& group) {
  return std::make_unique<ScheduleTriggerCommand>(group);
}

}  // namespace uasyncd::cli
