// `uasyncd run [flags] -- CMD ARGS...`: runs a command as an exec task and behaves as if it ran
// here: its stdout and stderr stream to ours as they are written (the output follow stream), and
// the exit code is the command's own (124 when it timed out, 130 when cancelled). Ctrl-C cancels
// the task; a second Ctrl-C stops waiting and leaves the task to end on the daemon.
#include <mutex>

#include "uasyncd/cli/command.hpp"
#include "uasyncd/cli/exit_codes.hpp"
#include "uasyncd/cli/interrupt_watcher.hpp"
#include "uasyncd/cli/output_follower.hpp"
#include "uasyncd/cli/safe_text.hpp"
#include "uasyncd/cli/spec_input.hpp"
#include "uasyncd/cli/task_format.hpp"
#include "uasyncd/cli/task_wait.hpp"

namespace uasyncd::cli {
namespace {

class RunCommand final : public Command {
 public:
  explicit RunCommand(CLI::App& app) {
    subcommand_ = add_client_subcommand(
        app, "run",
        "run a command as a task (needs a daemon with --allow-exec), stream its output here, "
        "exit with its code");
    overrides_.add_flags(*subcommand_);
    subcommand_->add_option("--cwd", cwd_,
                            "directory to run in, on the daemon's machine (default: the "
                            "daemon's)");
    subcommand_->add_option("--env", env_, "K=V added to the command's environment (repeatable)")
        ->allow_extra_args(false);
    subcommand_->add_option("command", command_, "the command and its arguments, after --")
        ->required();
  }

  int run(const Context& ctx) override {
    nlohmann::json spec = build_spec();
    // Before any thread: every thread then has SIGINT and SIGTERM blocked, and they arrive here.
    const std::unique_ptr<Connection> stream = ctx.connect();  // stopped by a second Ctrl-C
    InterruptWatcher interrupts([&](int count) { interrupted(ctx, *stream, count); });

    const std::unique_ptr<Connection> connection = ctx.connect();
    const nlohmann::json record = connection->post("/api/tasks", &spec, {201}).body;
    const std::string id = string_field(record, "id");
    if (id.empty()) throw CliError(kExitDaemon, "the daemon's answer to the submit has no id");
    bool cancel_now = false;
    {
      const std::lock_guard lock(mu_);
      id_ = id;
      cancel_now = interrupts_ > 0;
    }
    if (cancel_now) cancel(ctx, id);

    FollowEnd end;
    try {
      if (!detached_) end = follow_output(*stream, id, write_chunk);
    } catch (const DaemonError& e) {
      // Too many open streams: the output comes at the end instead of live.
      if (e.status() != 503) throw;
      ctx.out.note("no live output (" + std::string(e.what()) + "): it follows when " +
                   printable(id) + " ends");
      end = {};
      print_all_output(*stream, id);
    } catch (const CliError&) {
      if (!detached_) throw;
    }
    if (detached_) {
      ctx.out.note("detached: " + printable(id) + " goes on; `uasyncd wait " + printable(id) +
                   "` waits for it");
      return kExitCancelled;
    }
    if (end.lost > 0) {
      ctx.out.note(std::to_string(end.lost) +
                   " pieces of output were lost (the client fell behind)");
    }
    const WaitOutcome outcome = wait_for_task(*connection, id, std::nullopt);
    return exit_code(ctx, outcome.record);
  }

 private:
  nlohmann::json build_spec() const {
    nlohmann::json spec{{"exec", command_}};
    if (!cwd_.empty()) spec["cwd"] = cwd_;
    if (!env_.empty()) {
      nlohmann::json env = nlohmann::json::object();
      for (const std::string& kv : env_) {
        const std::size_t eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) {
          throw CliError(kExitUsage, "--env " + printable(kv) + ": expected NAME=VALUE");
        }
        env[kv.substr(0, eq)] = kv.substr(eq + 1);
      }
      spec["env"] = std::move(env);
    }
    overrides_.apply(spec);
    return spec;
  }

  // On the watcher's thread.
  void interrupted(const Context& ctx, Connection& stream, int count) {
    std::string id;
    {
      const std::lock_guard lock(mu_);
      ++interrupts_;
      id = id_;
    }
    if (count >= 2) {
      detached_ = true;
      stream.stop();
      return;
    }
    if (id.empty()) return;  // not submitted yet: run() cancels it as soon as it has the id
    cancel(ctx, id);
  }

  // Any thread. Its own connection: the main thread's may be in use.
  static void cancel(const Context& ctx, const std::string& id) {
    ctx.out.note("cancelling " + printable(id) + " (Ctrl-C again to stop waiting)");
    try {
      ctx.connect()->post("/api/tasks/" + path_segment(id) + "/cancel", nullptr, {202, 409});
    } catch (const CliError& e) {
      ctx.out.note(std::string("could not cancel: ") + e.what());
    }
  }

  static void print_all_output(Connection& connection, const std::string& id) {
    wait_for_task(connection, id, std::nullopt);
    const HttpReply reply = connection.get("/api/tasks/" + path_segment(id) + "/output");
    for (const nlohmann::json& step : reply.body.value("steps", nlohmann::json::array())) {
      write_chunk({"", false, string_field(step, "stdout")});
      write_chunk({"", true, string_field(step, "stderr")});
    }
  }

  // The command's own exit code when it ran to its end; otherwise what the state says.
  static int exit_code(const Context& ctx, const nlohmann::json& record) {
    const std::string state = string_field(record, "state");
    const std::string id = printable(string_field(record, "id"));
    if (state == "done") return kExitDone;
    if (state == "timed_out") {
      ctx.out.note(id + " timed out");
      return kExitTimedOut;
    }
    if (state == "cancelled") {
      ctx.out.note(id + " was cancelled");
      return kExitCancelled;
    }
    if (state == "failed") {
      const nlohmann::json root = record.value("steps", nlohmann::json());
      const nlohmann::json result =
          root.is_object() ? root.value("result", nlohmann::json()) : nlohmann::json();
      if (result.is_object()) {
        const nlohmann::json code = result.value("exit_code", nlohmann::json());
        const nlohmann::json signal = result.value("signal", nlohmann::json());
        if (code.is_number_integer()) return code.get<int>() & 0xFF;
        if (signal.is_number_integer()) return 128 + (signal.get<int>() & 0x7F);
      }
      // It never ran: as a shell, 127 for a command not found, 126 for one it cannot run.
      const std::string error = error_text(record.value("error", nlohmann::json()));
      ctx.out.note(error.empty() ? id + " failed" : error);
      return error.find("(ENOENT)") != std::string::npos ? 127 : 126;
    }
    ctx.out.note(id + " ended " + printable(state));
    return kExitFailed;
  }

  RootOverrides overrides_;
  std::string cwd_;
  std::vector<std::string> env_;
  std::vector<std::string> command_;
  std::mutex mu_;
  std::string id_;      // once submitted
  int interrupts_ = 0;  // Ctrl-Cs so far
  std::atomic<bool> detached_{false};
};

}  // namespace

std::unique_ptr<Command> add_run_command(CLI::App& app) {
  return std::make_unique<RunCommand>(app);
}

}  // namespace uasyncd::cli
