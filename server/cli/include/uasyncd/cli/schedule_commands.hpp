// The members of `uasyncd schedule` (periodic schedules, /api/schedules); each adds its
// subcommand to the group's.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>

#include "uasyncd/cli/command.hpp"

namespace uasyncd::cli {

std::unique_ptr<Command> add_schedule_add_command(CLI::App& group);
std::unique_ptr<Command> add_schedule_ls_command(CLI::App& group);
std::unique_ptr<Command> add_schedule_show_command(CLI::App& group);
std::unique_ptr<Command> add_schedule_rm_command(CLI::App& group);
// `pause` and `resume`: one flag of the schedule, set either way.
std::unique_ptr<Command> add_schedule_pause_command(CLI::App& group);
std::unique_ptr<Command> add_schedule_resume_command(CLI::App& group);
std::unique_ptr<Command> add_schedule_trigger_command(CLI::App& group);

}  // namespace uasyncd::cli
