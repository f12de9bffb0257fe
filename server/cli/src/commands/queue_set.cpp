// `uasyncd queue set NAME [--max-running N] [--pause|--resume]`: a queue's limit and pause
// (PUT /api/queues/{name}); prints the queue as `queue ls` does.
#include "uasyncd/cli/exit_codes.hpp"
#include "uasyncd/cli/queue_commands.hpp"
#include "uasyncd/cli/queue_format.hpp"
#include "uasyncd/cli/resource_name.hpp"

namespace uasyncd::cli {
namespace {

class QueueSetCommand final : public Command {
 public:
  explicit QueueSetCommand(CLI::App& group) {
    subcommand_ = add_client_subcommand(
        group, "set", "set a queue's limit of running tasks, or pause or resume it");
    subcommand_->add_option("name", name_, "the queue's name")
        ->required()
        ->check(resource_name_validator("queue"));
    max_running_flag_ =
        subcommand_
            ->add_option("--max-running", max_running_,
                         "at most N of its tasks run at once, 0 (no limit) to 1000000")
            ->check(CLI::Range(0, 1000000));
    CLI::Option* pause_flag = subcommand_->add_flag(
        "--pause", pause_, "no task of the queue starts until it is resumed (running ones go on)");
    subcommand_->add_flag("--resume", resume_, "its tasks start again")->excludes(pause_flag);
  }

  int run(const Context& ctx) override {
    nlohmann::json body = nlohmann::json::object();
    if (max_running_flag_->count() > 0) body["max_running"] = max_running_;
    if (pause_) body["paused"] = true;
    if (resume_) body["paused"] = false;
    if (body.empty()) {
      throw CliError(kExitUsage, "queue set: give --max-running N, --pause or --resume");
    }
    const HttpReply reply = ctx.connect()->put("/api/queues/" + path_segment(name_), body);
    if (print_json_record(ctx, reply.body)) return 0;
    if (!reply.body.is_object()) throw CliError(kExitDaemon, "unexpected answer from the daemon");
    ctx.out.out(queue_table_text(nlohmann::json::array({reply.body}), ctx.out));
    return 0;
  }

 private:
  std::string name_;
  int max_running_ = 0;
  CLI::Option* max_running_flag_ = nullptr;
  bool pause_ = false;
  bool resume_ = false;
};

}  // namespace

std::unique_ptr<Command> add_queue_set_command(CLI::App& group) {
  return std::make_unique<QueueSetCommand>(group);
}

}  // namespace uasyncd::cli
