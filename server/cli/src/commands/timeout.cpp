// `uasyncd timeout ID S`: the task ends timed_out S seconds from now unless it ends before
// (POST /api/tasks/{id}/timeout).
#include <cstdio>

#include "uasyncd/cli/command.hpp"
#include "uasyncd/cli/exit_codes.hpp"
#include "uasyncd/cli/json_output.hpp"
#include "uasyncd/cli/safe_text.hpp"

namespace uasyncd::cli {
namespace {

class TimeoutCommand final : public Command {
 public:
  explicit TimeoutCommand(CLI::App& app) {
    subcommand_ = add_client_subcommand(app, "timeout",
                                        "set a task's timeout: it ends timed_out S s from now");
    subcommand_->add_option("id", id_, "a task id")->required();
    subcommand_->add_option("seconds", seconds_, "seconds from now")
        ->required()
        ->check(seconds_validator());
  }

  int run(const Context& ctx) override {
    const nlohmann::json body{{"timeout", seconds_}};
    const HttpReply reply =
        ctx.connect()->post("/api/tasks/" + path_segment(id_) + "/timeout", &body, {202});
    if (print_json_record(ctx, reply.body)) return 0;
    char text[64];
    std::snprintf(text, sizeof text, "%g", seconds_);
    ctx.out.out(printable(id_) + " times out in " + text + "s unless it ends before\n");
    return 0;
  }

 private:
  std::string id_;
  double seconds_ = 0;
};

}  // namespace

std::unique_ptr<Command> add_timeout_command(CLI::App& app) {
  return std::make_unique<TimeoutCommand>(app);
}

}  // namespace uasyncd::cli
