// `uasyncd schedule pause|resume NAME...` (POST /api/schedules/{name}/pause or /resume). A
// paused schedule does not fire; on resume, its catch-up policy says what becomes of the fires
// it missed.
#include "uasyncd/cli/resource_name.hpp"
#include "uasyncd/cli/safe_text.hpp"
#include "uasyncd/cli/schedule_commands.hpp"
#include "uasyncd/cli/schedule_format.hpp"

namespace uasyncd::cli {
namespace {

class SchedulePauseCommand final : public Command {
 public:
  SchedulePauseCommand(CLI::App& group, bool pause) : pause_(pause) {
    subcommand_ = add_client_subcommand(
        group, pause ? "pause" : "resume",
        pause ? "pause schedules: they do not fire until resumed"
              : "resume paused schedules (their catch-up policy says what becomes of the fires "
                "they missed)");
    subcommand_->add_option("names", names_, "schedule names")
        ->required()
        ->check(resource_name_validator("schedule"));
  }

  int run(const Context& ctx) override {
    const std::string action = pause_ ? "/pause" : "/resume";
    return act_on_each(
        ctx, names_,
        [&action](Connection& c, const std::string& name) {
          return c.post("/api/schedules/" + path_segment(name) + action, nullptr, {200}).body;
        },
        [this](const nlohmann::json& record, const std::string& name) {
          if (pause_) return "paused schedule " + printable(name) + "\n";
          return schedule_change_line("resumed", record);
        });
  }

 private:
  bool pause_;
  std::vector<std::string> names_;
};

}  // namespace

std::unique_ptr<Command> add_schedule_pause_command(CLI::App& group) {
  return std::make_unique<SchedulePauseCommand>(group, true);
}

std::unique_ptr<Command> add_schedule_resume_command(CLI::App& group) {
  return std::make_unique<SchedulePauseCommand>(group, false);
}

}  // namespace uasyncd::cli
