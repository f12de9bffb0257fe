// `uasyncd cancel ID...`: cancel tasks, or single steps by their step ids
// (POST /api/tasks/{id}/cancel). The daemon answers at once; the task ends cancelled soon after
// (`uasyncd wait` waits for that).
#include "uasyncd/cli/command.hpp"
#include "uasyncd/cli/exit_codes.hpp"
#include "uasyncd/cli/safe_text.hpp"

namespace uasyncd::cli {
namespace {

class CancelCommand final : public Command {
 public:
  explicit CancelCommand(CLI::App& app) {
    subcommand_ =
        add_client_subcommand(app, "cancel", "cancel tasks, or steps by their ids (t3.2)");
    subcommand_->add_option("ids", ids_, "task or step ids")->required();
  }

  int run(const Context& ctx) override {
    return act_on_each(
        ctx, ids_,
        [](Connection& c, const std::string& id) {
          return c.post("/api/tasks/" + path_segment(id) + "/cancel", nullptr, {202}).body;
        },
        [](const nlohmann::json&, const std::string& id) {
          return "cancel requested: " + printable(id) + "\n";
        });
  }

 private:
  std::vector<std::string> ids_;
};

}  // namespace

std::unique_ptr<Command> add_cancel_command(CLI::App& app) {
  return std::make_unique<CancelCommand>(app);
}

}  // namespace uasyncd::cli
