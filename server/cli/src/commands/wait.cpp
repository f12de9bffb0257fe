// `uasyncd wait ID... [--timeout S]`: waits until every task given has ended, with the daemon's
// long-poll, and exits with a code from their states.
#include "uasyncd/cli/command.hpp"
#include "uasyncd/cli/exit_codes.hpp"
#include "uasyncd/cli/json_output.hpp"
#include "uasyncd/cli/task_format.hpp"
#include "uasyncd/cli/task_wait.hpp"

namespace uasyncd::cli {
namespace {

class WaitCommand final : public Command {
 public:
  explicit WaitCommand(CLI::App& app) {
    subcommand_ = add_client_subcommand(
        app, "wait",
        "wait until tasks end; exit 0 if all are done, else the code of the first that is not");
    subcommand_->add_option("ids", ids_, "task ids")->required();
    timeout_flag_ =
        subcommand_->add_option("--timeout", timeout_, "give up after S seconds (exit 124)")
            ->check(seconds_validator());
  }

  int run(const Context& ctx) override {
    using Clock = std::chrono::steady_clock;
    std::optional<Clock::time_point> deadline;
    if (timeout_flag_->count() > 0) {
      deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(timeout_));
    }
    const std::unique_ptr<Connection> connection = ctx.connect();
    const Format format = ctx.out.records();
    JsonListWriter list(ctx.out, format);
    int code = kExitDone;
    for (const std::string& id : ids_) {
      WaitOutcome outcome;
      try {
        outcome = wait_for_task(*connection, id, deadline);
      } catch (const DaemonError& e) {  // an unknown id: the others are still waited for
        ctx.out.err("uasyncd: " + std::string(e.what()) + "\n");
        if (code == kExitDone) code = kExitDaemon;
        continue;
      }
      const int this_code = outcome.finished
                                ? exit_code_for_state(string_field(outcome.record, "state"))
                                : kExitTimedOut;
      if (code == kExitDone) code = this_code;
      if (format == Format::table) {
        ctx.out.out(outcome_text(outcome.record, ctx.out));
        if (!outcome.finished) ctx.out.note("gave up waiting (--timeout)");
      } else if (ids_.size() == 1) {
        ctx.out.out(json_text(outcome.record, format));
      } else {
        list.add(outcome.record);
      }
    }
    if (format != Format::table && ids_.size() > 1) list.finish();
    return code;
  }

 private:
  std::vector<std::string> ids_;
  double timeout_ = 0;
  CLI::Option* timeout_flag_ = nullptr;
};

}  // namespace

std::unique_ptr<Command> add_wait_command(CLI::App& app) {
  return std::make_unique<WaitCommand>(app);
}

}  // namespace uasyncd::cli
