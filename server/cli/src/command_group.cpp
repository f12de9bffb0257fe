#include "uasyncd/cli/command_group.hpp"

#include <vector>

#include "uasyncd/cli/exit_codes.hpp"

namespace uasyncd::cli {
namespace {

class CommandGroup final : public Command {
 public:
  CommandGroup(CLI::App& app, const std::string& name, const std::string& description,
               std::initializer_list<CommandMaker> members) {
    subcommand_ = add_client_subcommand(app, name, description);
    for (CommandMaker make : members)
      members_.push_back(make(*subcommand_));
    subcommand_->require_subcommand(1);
  }

  int run(const Context& ctx) override {
    for (const auto& member : members_) {
      if (member->subcommand()->parsed()) return member->run(ctx);
    }
    return kExitUsage;  // unreachable: the parse requires one
  }

 private:
  std::vector<std::unique_ptr<Command>> members_;
};

}  // namespace

std::unique_ptr<Command> make_command_group(CLI::App& app, const std::string& name,
                                            const std::string& description,
                                            std::initializer_list<CommandMaker> members) {
  return std::make_unique<CommandGroup>(app, name, description, members);
}

}  // namespace uasyncd::cli
