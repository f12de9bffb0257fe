// `uasyncd schedule add NAME (--cron EXPR [--timezone TZ] | --every S) [SPEC]`: makes a periodic
// schedule (POST /api/schedules) that submits SPEC at each of its times.
#include <cmath>

#include "uasyncd/cli/exit_codes.hpp"
#include "uasyncd/cli/resource_name.hpp"
#include "uasyncd/cli/schedule_commands.hpp"
#include "uasyncd/cli/schedule_format.hpp"
#include "uasyncd/cli/spec_input.hpp"

namespace uasyncd::cli {
namespace {

// An interval of 0 would fire without end; the daemon's own range (0.001 s to 100 years) is
// left to it, which names it in its answer.
CLI::Validator interval_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(text, v) || !std::isfinite(v) || v <= 0) {
          return "expected a number of seconds, more than 0: " + text;
        }
        return {};
      },
      "SECONDS");
}

class ScheduleAddCommand final : public Command {
 public:
  explicit ScheduleAddCommand(CLI::App& group) {
    subcommand_ = add_client_subcommand(group, "add",
                                        "add a schedule: it submits SPEC at the times of a cron "
                                        "expression, or every N seconds");
    subcommand_->add_option("name", name_, "its name: 1 to 128 characters of A-Z a-z 0-9 . _ -")
        ->required()
        ->check(resource_name_validator("schedule"));
    subcommand_->add_option("spec", source_,
                            "the task spec of every run: a JSON file; '-' or none: standard input");
    cron_flag_ = subcommand_->add_option(
        "--cron", cron_,
        "a cron expression: 5 fields, 6 with seconds first, or a macro such as @daily");
    subcommand_
        ->add_option("--timezone", timezone_,
                     "the IANA time zone the cron expression is read in (default UTC)")
        ->needs(cron_flag_);
    every_flag_ = subcommand_->add_option("--every", every_, "fire every SECONDS instead")
                      ->check(interval_validator())
                      ->excludes(cron_flag_);
    subcommand_
        ->add_option("--overlap", overlap_,
                     "a fire while the last run still goes: skip it (the default), allow a "
                     "second run, or queue it until the last run ends")
        ->check(CLI::IsMember({"skip", "allow", "queue"}));
    subcommand_
        ->add_option("--catch-up", catch_up_,
                     "fires missed while the daemon was down or the schedule paused: none are "
                     "run (the default), or one is, at once")
        ->check(CLI::IsMember({"none", "one"}));
    subcommand_->add_flag("--paused", paused_, "add it paused: it fires once resumed");
  }

  int run(const Context& ctx) override {
    const nlohmann::json request = build_request();
    const HttpReply reply = ctx.connect()->post("/api/schedules", &request, {201});
    if (print_json_record(ctx, reply.body)) return 0;
    ctx.out.out(schedule_change_line("added", reply.body));
    return 0;
  }

 private:
  nlohmann::json build_request() const {
    if (cron_flag_->count() == 0 && every_flag_->count() == 0) {
      throw CliError(kExitUsage, "schedule add: give --cron EXPR or --every SECONDS");
    }
    std::vector<nlohmann::json> specs =
        read_specs(source_.empty() ? std::vector<std::string>{} : std::vector{source_});
    if (specs.size() != 1) {
      throw CliError(kExitUsage,
                     "a schedule takes one spec; " + std::to_string(specs.size()) + " were given");
    }
    if (!specs.front().is_object()) throw CliError(kExitUsage, "a spec must be a JSON object");
    nlohmann::json request{{"name", name_}, {"spec", std::move(specs.front())}};
    if (cron_flag_->count() > 0) {
      request["cron"] = cron_;
      if (!timezone_.empty()) request["timezone"] = timezone_;
    } else {
      request["every"] = every_;
    }
    if (!overlap_.empty()) request["overlap"] = overlap_;
    if (!catch_up_.empty()) request["catch_up"] = catch_up_;
    if (paused_) request["paused"] = true;
    return request;
  }

  std::string name_;
  std::string source_;
  std::string cron_;
  std::string timezone_;
  double every_ = 0;
  std::string overlap_;
  std::string catch_up_;
  bool paused_ = false;
  CLI::Option* cron_flag_ = nullptr;
  CLI::Option* every_flag_ = nullptr;
};

}  // namespace

std::unique_ptr<Command> add_schedule_add_command(CLI::App& group) {
  return std::make_unique<ScheduleAddCommand>(group);
}

}  // namespace uasyncd::cli
