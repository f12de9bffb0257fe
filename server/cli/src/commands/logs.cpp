// `uasyncd logs ID [-f]`: what a task's exec steps wrote, their stdout to ours and their stderr to
// ours (GET /api/tasks/{id}/output); with -f, live until the task ends (?follow=1, SSE).
#include <unistd.h>

#include "uasyncd/cli/command.hpp"
#include "uasyncd/cli/exit_codes.hpp"
#include "uasyncd/cli/json_output.hpp"
#include "uasyncd/cli/output_follower.hpp"
#include "uasyncd/cli/safe_text.hpp"
#include "uasyncd/cli/task_format.hpp"

namespace uasyncd::cli {
namespace {

class LogsCommand final : public Command {
 public:
  explicit LogsCommand(CLI::App& app) {
    subcommand_ = add_client_subcommand(
        app, "logs", "what a task's exec steps wrote (stdout to stdout, stderr to stderr)");
    subcommand_->add_option("id", id_, "a task id, or an exec step's id for that step only")
        ->required();
    subcommand_->add_flag("-f,--follow", follow_, "keep printing as it comes, until the task ends");
  }

  int run(const Context& ctx) override {
    // Raw bytes unless -o asks for JSON: a log is read or grepped, on a terminal or not.
    const std::optional<Format> json =
        ctx.out.chosen() == Format::table ? std::nullopt : ctx.out.chosen();
    const std::unique_ptr<Connection> connection = ctx.connect();
    if (follow_) {
      const FollowEnd end = follow_output(*connection, id_, [&](const OutputChunk& c) {
        if (!json) return write_chunk(c);
        ctx.out.out(json_text(
            {{"step", c.step}, {"stream", c.is_stderr ? "stderr" : "stdout"}, {"data", c.data}},
            Format::jsonl));
      });
      if (end.lost > 0) {
        ctx.out.note(std::to_string(end.lost) +
                     " pieces of output were lost (the client fell behind)");
      }
      return 0;
    }
    const HttpReply reply = connection->get("/api/tasks/" + path_segment(id_) + "/output");
    if (json) {
      ctx.out.out(json_text(reply.body, *json));
      return 0;
    }
    const nlohmann::json steps = reply.body.value("steps", nlohmann::json::array());
    if (steps.empty()) ctx.out.note(printable(id_) + " has no exec step: no output");
    for (const nlohmann::json& step : steps) {
      if (!step.is_object()) continue;
      const std::string step_id = printable(string_field(step, "id", "?"));
      if (steps.size() > 1) {
        std::string argv;
        for (const nlohmann::json& a : step.value("argv", nlohmann::json::array())) {
          if (a.is_string()) argv += " " + a.get<std::string>();
        }
        ctx.out.out("==> " + step_id + printable(argv) + " <==\n");
      }
      write_all(STDOUT_FILENO, string_field(step, "stdout"));
      write_all(STDERR_FILENO, string_field(step, "stderr"));
      for (const char* stream : {"stdout", "stderr"}) {
        if (step.value(std::string(stream) + "_truncated", false)) {
          ctx.out.note(step_id + ": " + stream + " is cut: the step wrote " +
                       step.value(std::string(stream) + "_bytes", nlohmann::json()).dump() +
                       " bytes, the daemon keeps the first ones");
        }
      }
    }
    return 0;
  }

 private:
  std::string id_;
  bool follow_ = false;
};

}  // namespace

std::unique_ptr<Command> add_logs_command(CLI::App& app) {
  return std::make_unique<LogsCommand>(app);
}

}  // namespace uasyncd::cli
