// `uasyncd schedule show NAME`: a schedule's record (GET /api/schedules/{name}).
#include "uasyncd/cli/connection.hpp"
#include "uasyncd/cli/exit_codes.hpp"
#include "uasyncd/cli/resource_name.hpp"
#include "uasyncd/cli/schedule_commands.hpp"
#include "uasyncd/cli/schedule_format.hpp"

namespace uasyncd::cli {
namespace {

class ScheduleShowCommand final : public Command {
 public:
  explicit ScheduleShowCommand(CLI::App& group) {
    subcommand_ = add_client_subcommand(
        group, "show",
        "a schedule's record: when it fires, its next fires, its last run, its spec");
    subcommand_->add_option("name", name_, "the schedule's name")
        ->required()
        ->check(resource_name_validator("schedule"));
  }

  int run(const Context& ctx) override {
    const HttpReply reply = ctx.connect()->get("/api/schedules/" + path_segment(name_));
    if (print_json_record(ctx, reply.body)) return 0;
    if (!reply.body.is_object()) throw CliError(kExitDaemon, "unexpected answer from the daemon");
    ctx.out.out(schedule_record_text(reply.body, ctx.out));
    return 0;
  }

 private:
  std::string name_;
};

}  // namespace

std::unique_ptr<Command> add_schedule_show_command(CLI::App& group) {
  return std::make_unique<ScheduleShowCommand>(group);
}

}  // namespace uasyncd::cli
