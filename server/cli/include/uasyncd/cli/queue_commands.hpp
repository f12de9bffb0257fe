// The members of `uasyncd queue` (named queues, /api/queues); each adds its subcommand to the
// group's.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>

#include "uasyncd/cli/command.hpp"

namespace uasyncd::cli {

std::unique_ptr<Command> add_queue_ls_command(CLI::App& group);
std::unique_ptr<Command> add_queue_set_command(CLI::App& group);

}  // namespace uasyncd::cli
