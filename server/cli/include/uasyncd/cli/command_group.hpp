// A command made of commands, `uasyncd schedule add|ls|...`: a subcommand that holds theirs and
// runs the one that was given. Without one it is a usage error.
#pragma once

#include <CLI/CLI.hpp>

#include <initializer_list>
#include <memory>
#include <string>

#include "uasyncd/cli/command.hpp"

namespace uasyncd::cli {

// Each adds its subcommand to the group's, as add_submit_command adds its to the app.
using CommandMaker = std::unique_ptr<Command> (*)(CLI::App&);

std::unique_ptr<Command> make_command_group(CLI::App& app, const std::string& name,
                                            const std::string& description,
                                            std::initializer_list<CommandMaker> members);

}  // namespace uasyncd::cli
