// `uasyncd stats`: the daemon's counters (GET /api/stats).
#include <cstdio>

#include "uasyncd/cli/command.hpp"
#include "uasyncd/cli/exit_codes.hpp"
#include "uasyncd/cli/json_output.hpp"
#include "uasyncd/cli/safe_text.hpp"
#include "uasyncd/cli/table.hpp"
#include "uasyncd/cli/task_format.hpp"

namespace uasyncd::cli {
namespace {

std::string number(const nlohmann::json& v) {
  return v.is_number() ? v.dump() : "-";
}

class StatsCommand final : public Command {
 public:
  explicit StatsCommand(CLI::App& app) {
    subcommand_ = add_client_subcommand(app, "stats",
                                        "the daemon's counts of tasks by state, loop lag, uptime");
  }

  int run(const Context& ctx) override {
    const HttpReply reply = ctx.connect()->get("/api/stats");
    const nlohmann::json& s = reply.body;
    if (print_json_record(ctx, s)) return 0;
    if (!s.is_object()) throw CliError(kExitDaemon, "unexpected answer from the daemon");
    std::string text;
    const auto row = [&](std::string_view label, std::string_view value) {
      text += field_line(ctx.out, label, value, 12);
    };
    row("version", printable(string_field(s, "version", "-")));
    row("uptime", format_duration(s.value("uptime_seconds", nlohmann::json())));
    const nlohmann::json lag = s.value("loop_lag_seconds", nlohmann::json());
    char lag_text[32] = "-";
    if (lag.is_number())
      std::snprintf(lag_text, sizeof lag_text, "%.1f ms", lag.get<double>() * 1000);
    row("loop lag", lag_text);
    row("submitted", number(s.value("submitted_total", nlohmann::json())));
    row("retained", number(s.value("retained", nlohmann::json())));
    ctx.out.out(text + "\n");
    const nlohmann::json tasks = s.value("tasks", nlohmann::json::object());
    if (tasks.is_object()) {
      Table table({"STATE", "TASKS"});
      for (const auto& [state, n] : tasks.items())
        table.add_row({{state, state_color(state)}, {number(n)}});
      ctx.out.out(table.render(ctx.out));
    }
    return 0;
  }
};

}  // namespace

std::unique_ptr<Command> add_stats_command(CLI::App& app) {
  return std::make_unique<StatsCommand>(app);
}

}  // namespace uasyncd::cli
