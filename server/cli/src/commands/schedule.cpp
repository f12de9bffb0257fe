// `uasyncd schedule add|ls|show|rm|pause|resume|trigger`: periodic schedules, which submit a task
// spec at the times of a cron expression or every N seconds (/api/schedules).
#include "uasyncd/cli/command_group.hpp"
#include "uasyncd/cli/schedule_commands.hpp"

namespace uasyncd::cli {

std::unique_ptr<Command> add_schedule_command(CLI::App& app) {
  return make_command_group(
      app, "schedule",
      "periodic schedules: submit a spec at the times of a cron expression, or every N seconds",
      {add_schedule_add_command, add_schedule_ls_command, add_schedule_show_command,
       add_schedule_rm_command, add_schedule_pause_command, add_schedule_resume_command,
       add_schedule_trigger_command});
}

}  // namespace uasyncd::cli
