// `uasyncd rm ID...`: forget finished tasks (DELETE /api/tasks/{id}).
#include "uasyncd/cli/command.hpp"
#include "uasyncd/cli/exit_codes.hpp"
#include "uasyncd/cli/safe_text.hpp"

namespace uasyncd::cli {
namespace {

class RmCommand final : public Command {
 public:
  explicit RmCommand(CLI::App& app) {
    subcommand_ = add_client_subcommand(app, "rm", "forget finished tasks");
    subcommand_->add_option("ids", ids_, "task ids")->required();
  }

  int run(const Context& ctx) override {
    return act_on_each(
        ctx, ids_,
        [](Connection& c, const std::string& id) {
          return c.del("/api/tasks/" + path_segment(id)).body;
        },
        [](const nlohmann::json&, const std::string& id) {
          return "deleted " + printable(id) + "\n";
        });
  }

 private:
  std::vector<std::string> ids_;
};

}  // namespace

std::unique_ptr<Command> add_rm_command(CLI::App& app) {
  return std::make_unique<RmCommand>(app);
}

}  // namespace uasyncd::cli
