#include "uasyncd/cli/command.hpp"

#include <cmath>

#include "uasyncd/cli/exit_codes.hpp"
#include "uasyncd/cli/json_output.hpp"

namespace uasyncd::cli {

std::unique_ptr<Connection> Context::connect() const {
  return std::make_unique<Connection>(url, token);
}

CLI::App* add_client_subcommand(CLI::App& app, const std::string& name,
                                const std::string& description) {
  CLI::App* sub = app.add_subcommand(name, description);
  // --url, --token, -o and --quiet belong to the app: after the command name they fall through.
  sub->fallthrough();
  sub->group("Client commands");
  return sub;
}

bool print_json_record(const Context& ctx, const nlohmann::json& record) {
  if (ctx.out.records() == Format::table) return false;
  ctx.out.out(json_text(record, ctx.out.records()));
  return true;
}

CLI::Validator seconds_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(text, v) || !std::isfinite(v) || v < 0) {
          return "expected a number of seconds, 0 or more: " + text;
        }
        return {};
      },
      "SECONDS");
}

int act_on_each(const Context& ctx, const std::vector<std::string>& ids,
                const std::function<nlohmann::json(Connection&, const std::string&)>& act,
                const std::function<std::string(const nlohmann::json&, const std::string&)>& line) {
  const std::unique_ptr<Connection> connection = ctx.connect();
  const Format format = ctx.out.records();
  JsonListWriter list(ctx.out, format);
  int code = kExitDone;
  for (const std::string& id : ids) {
    nlohmann::json reply;
    try {
      reply = act(*connection, id);
    } catch (const DaemonError& e) {
      ctx.out.err("uasyncd: " + std::string(e.what()) + "\n");
      code = kExitDaemon;
      continue;
    }
    if (format == Format::table) {
      ctx.out.out(line(reply, id));
    } else if (ids.size() == 1) {
      ctx.out.out(json_text(reply, format));
    } else {
      list.add(reply);
    }
  }
  if (format != Format::table && ids.size() > 1) list.finish();
  return code;
}

}  // namespace uasyncd::cli
