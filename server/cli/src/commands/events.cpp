// `uasyncd events`: the daemon's task transitions as they happen (GET /api/events, SSE), one
// JSON object a line, for jq pipelines. Runs until interrupted or the daemon ends the stream.
#include "uasyncd/cli/command.hpp"
#include "uasyncd/cli/exit_codes.hpp"
#include "uasyncd/cli/json_output.hpp"
#include "uasyncd/cli/safe_text.hpp"
#include "uasyncd/cli/task_format.hpp"

namespace uasyncd::cli {
namespace {

class EventsCommand final : public Command {
 public:
  explicit EventsCommand(CLI::App& app) {
    subcommand_ = add_client_subcommand(
        app, "events", "task transitions as they happen, one JSON line each (-o table: text)");
  }

  int run(const Context& ctx) override {
    // JSON lines whatever the terminal, as the command exists for pipelines; a table only asked.
    const bool text = ctx.out.chosen() == Format::table;
    ctx.connect()->stream("/api/events", [&](const SseEvent& e) {
      if (e.comment) return true;
      const nlohmann::json data = nlohmann::json::parse(e.data, nullptr, false);
      if (e.event == "lost") {
        ctx.out.note(data.value("lost", nlohmann::json(0)).dump() +
                     " events were lost (the client fell behind)");
        return true;
      }
      if (!data.is_array()) return true;
      std::string lines;
      for (const nlohmann::json& event : data)
        lines += text ? event_line(event, ctx.out) : json_text(event, Format::jsonl);
      ctx.out.out(lines);
      return true;
    });
    return 0;
  }

 private:
  // "10:30:05 t3.2 sleep barking running"
  static std::string event_line(const nlohmann::json& event, const Output& out) {
    const std::string time = format_time(event.value("time", nlohmann::json()));
    const std::string type = string_field(event, "type");
    const std::string state = string_field(event, "state");
    std::string line = (time.size() > 11 ? time.substr(11) : time) + " ";
    line += printable(type == "step" ? string_field(event, "step") : string_field(event, "id"));
    line += " " + printable(string_field(event, "kind"));
    if (const std::string name = string_field(event, "name"); !name.empty()) {
      line += " " + truncate_to_width(printable(name), 40);
    }
    if (type != "step") line += " " + printable(type);
    line += " " + out.paint(printable(state), state_color(state));
    if (const auto e = event.find("error"); e != event.end() && e->is_object()) {
      line += " " + error_text(*e);
    }
    return line + "\n";
  }
};

}  // namespace

std::unique_ptr<Command> add_events_command(CLI::App& app) {
  return std::make_unique<EventsCommand>(app);
}

}  // namespace uasyncd::cli
