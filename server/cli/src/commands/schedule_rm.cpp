// `uasyncd schedule rm NAME...`: delete schedules (DELETE /api/schedules/{name}). Their runs so
// far stay, as tasks.
#include "uasyncd/cli/resource_name.hpp"
#include "uasyncd/cli/safe_text.hpp"
#include "uasyncd/cli/schedule_commands.hpp"

namespace uasyncd::cli {
namespace {

class ScheduleRmCommand final : public Command {
 public:
  explicit ScheduleRmCommand(CLI::App& group) {
    subcommand_ = add_client_subcommand(group, "rm", "delete schedules (their runs stay)");
    subcommand_->add_option("names", names_, "schedule names")
        ->required()
        ->check(resource_name_validator("schedule"));
  }

  int run(const Context& ctx) override {
    return act_on_each(
        ctx, names_,
        [](Connection& c, const std::string& name) {
          return c.del("/api/schedules/" + path_segment(name)).body;
        },
        [](const nlohmann::json&, const std::string& name) {
          return "deleted schedule " + printable(name) + "\n";
        });
  }

 private:
  std::vector<std::string> names_;
};

}  // namespace

std::unique_ptr<Command> add_schedule_rm_command(CLI::App& group) {
  return std::make_unique<ScheduleRmCommand>(group);
}

}  // namespace uasyncd::cli
