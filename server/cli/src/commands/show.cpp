// `uasyncd show ID`: a task's record, and its steps drawn as a tree (GET /api/tasks/{id}).
#include "uasyncd/cli/command.hpp"
#include "uasyncd/cli/exit_codes.hpp"
#include "uasyncd/cli/json_output.hpp"
#include "uasyncd/cli/safe_text.hpp"
#include "uasyncd/cli/step_tree.hpp"
#include "uasyncd/cli/task_format.hpp"

namespace uasyncd::cli {
namespace {

class ShowCommand final : public Command {
 public:
  explicit ShowCommand(CLI::App& app) {
    subcommand_ = add_client_subcommand(app, "show", "a task's record and its step tree");
    subcommand_->add_option("id", id_, "a task id (a step id shows its task)")->required();
  }

  int run(const Context& ctx) override {
    const HttpReply reply = ctx.connect()->get("/api/tasks/" + path_segment(id_));
    const nlohmann::json& task = reply.body;
    if (print_json_record(ctx, task)) return 0;
    if (!task.is_object()) throw CliError(kExitDaemon, "unexpected answer from the daemon");
    std::string text;
    const auto row = [&](std::string_view label, std::string_view value) {
      text += field_line(ctx.out, label, value, 10);
    };
    const std::string state = string_field(task, "state", "?");
    row("id", printable(string_field(task, "id", "?")));
    row("name", printable(string_field(task, "name")));
    row("kind", printable(string_field(task, "kind")));
    row("state", ctx.out.paint(printable(state), state_color(state)));
    row("attempts", task.value("attempts", nlohmann::json()).dump());
    row("created", format_time(task.value("created", nlohmann::json())));
    if (const nlohmann::json run_at = task.value("run_at", nlohmann::json()); run_at.is_number())
      row("run at", format_time(run_at));
    row("started", format_time(task.value("started", nlohmann::json())));
    row("finished", format_time(task.value("finished", nlohmann::json())));
    row("duration", format_duration(task.value("duration", nlohmann::json())));
    if (const auto e = task.find("error"); e != task.end() && e->is_object()) {
      row("error", error_text(*e));
    }
    if (const auto r = task.find("result"); r != task.end() && !r->is_null()) {
      row("result", one_line(*r, 4096));
    }
    if (const auto steps = task.find("steps"); steps != task.end() && steps->is_object()) {
      text += "\n" + render_step_tree(*steps, ctx.out);
    }
    ctx.out.out(text);
    return 0;
  }

 private:
  std::string id_;
};

}  // namespace

std::unique_ptr<Command> add_show_command(CLI::App& app) {
  return std::make_unique<ShowCommand>(app);
}

}  // namespace uasyncd::cli
