// `uasyncd queue ls`: the named queues, their limits and what waits in them (GET /api/queues).
#include "uasyncd/cli/exit_codes.hpp"
#include "uasyncd/cli/json_output.hpp"
#include "uasyncd/cli/queue_commands.hpp"
#include "uasyncd/cli/queue_format.hpp"
#include "uasyncd/cli/safe_text.hpp"
#include "uasyncd/cli/task_format.hpp"

namespace uasyncd::cli {
namespace {

class QueueLsCommand final : public Command {
 public:
  explicit QueueLsCommand(CLI::App& group) {
    subcommand_ = add_client_subcommand(
        group, "ls", "list the queues: limit, paused, tasks running, pending and scheduled");
  }

  int run(const Context& ctx) override {
    const HttpReply reply = ctx.connect()->get("/api/queues");
    const nlohmann::json queues =
        reply.body.is_object() ? reply.body.value("queues", nlohmann::json()) : nullptr;
    if (!queues.is_array()) throw CliError(kExitDaemon, "unexpected answer from the daemon");
    // --quiet prints names (for xargs), unless -o asked for JSON outright.
    const bool names_only =
        ctx.out.quiet() && ctx.out.chosen().value_or(Format::table) == Format::table;
    const Format format = names_only ? Format::table : ctx.out.records();
    if (format != Format::table) {
      JsonListWriter list(ctx.out, format);
      for (const nlohmann::json& q : queues)
        list.add(q);
      list.finish();
    } else if (names_only) {
      std::string lines;
      for (const nlohmann::json& q : queues)
        lines += printable(string_field(q, "name", "?")) + "\n";
      ctx.out.out(lines);
    } else {
      ctx.out.out(queue_table_text(queues, ctx.out));
    }
    return 0;
  }
};

}  // namespace

std::unique_ptr<Command> add_queue_ls_command(CLI::App& group) {
  return std::make_unique<QueueLsCommand>(group);
}

}  // namespace uasyncd::cli
