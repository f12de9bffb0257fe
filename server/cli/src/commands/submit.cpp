// `uasyncd submit [FILE|-]...`: submits a spec (POST /api/tasks) and prints its id or record;
// --wait waits for the end (long-poll) with a progress line on a terminal; --follow streams the
// exec output and the step transitions until the end. Several specs (several files, a JSON array,
// JSON lines) are submitted as one batch (all stored or none) and their ids printed in order.
#include <mutex>

#include "uasyncd/cli/command.hpp"
#include "uasyncd/cli/exit_codes.hpp"
#include "uasyncd/cli/json_output.hpp"
#include "uasyncd/cli/output_follower.hpp"
#include "uasyncd/cli/progress_line.hpp"
#include "uasyncd/cli/safe_text.hpp"
#include "uasyncd/cli/spec_input.hpp"
#include "uasyncd/cli/step_tree.hpp"
#include "uasyncd/cli/task_event_feed.hpp"
#include "uasyncd/cli/task_format.hpp"
#include "uasyncd/cli/task_wait.hpp"

namespace uasyncd::cli {
namespace {

// How long a wait gives the event stream to confirm its subscription before going on without
// step transitions (progress and --follow's step lines are extras; the end never depends on them).
constexpr std::chrono::seconds kSubscribeTimeout{2};

bool valid_idempotency_key(const std::string& key) {
  if (key.empty() || key.size() > 255) return false;
  for (char c : key) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

class SubmitCommand final : public Command {
 public:
  explicit SubmitCommand(CLI::App& app) {
    subcommand_ = add_client_subcommand(app, "submit",
                                        "submit a task spec (a JSON file, or standard input); "
                                        "print its id. Several specs (files, a JSON array, JSON "
                                        "lines) are one batch: all stored or none, ids printed "
                                        "in order");
    subcommand_->add_option("file", files_,
                            "the specs: JSON files (a spec, an array of specs, or one spec per "
                            "line); '-' or none: standard input");
    overrides_.add_flags(*subcommand_);
    subcommand_->add_option("--idempotency-key", key_,
                            "sent as the Idempotency-Key header: a repeated key gets the task "
                            "the first submit made (printable ASCII, up to 255 characters)");
    subcommand_->add_flag("--wait", wait_, "wait until the task ends; exit code from its state");
    subcommand_->add_flag("--follow", follow_,
                          "stream its exec output and step transitions until it ends; "
                          "exit code from its state");
  }

  int run(const Context& ctx) override {
    std::vector<nlohmann::json> specs = read_specs(files_);
    for (nlohmann::json& spec : specs)
      overrides_.apply(spec);
    if (specs.size() > 1 && (wait_ || follow_)) {
      throw CliError(kExitUsage, "--wait and --follow take one spec; " +
                                     std::to_string(specs.size()) + " were given");
    }
    httplib::Headers headers;
    if (!key_.empty()) {
      if (!valid_idempotency_key(key_)) {
        throw CliError(kExitUsage, "--idempotency-key: printable ASCII only, 1 to 255 characters");
      }
      headers.emplace("Idempotency-Key", key_);
    }
    const bool ids_only =
        ctx.out.quiet() && ctx.out.chosen().value_or(Format::table) == Format::table;
    const bool progress = wait_ && !follow_ && ctx.out.progress();
    // Declared before the feed, whose thread uses it: destroyed after the feed has stopped, even
    // when an error unwinds (so the line is erased before the error is printed).
    std::unique_ptr<ProgressLine> progress_line;
    // Subscribed before the submit, so the new task's first transitions are not missed.
    std::unique_ptr<TaskEventFeed> feed;
    if (progress || follow_) {
      feed = std::make_unique<TaskEventFeed>(
          ctx.url, ctx.token, [this, &ctx](const nlohmann::json& e) { on_event(ctx, e); });
      if (!feed->await_subscribed(kSubscribeTimeout)) feed.reset();
    }

    const std::unique_ptr<Connection> connection = ctx.connect();
    if (specs.size() > 1) return submit_batch(ctx, *connection, specs, headers);
    const nlohmann::json record = submit(*connection, specs.front(), headers);
    const std::string id = string_field(record, "id");
    if (id.empty()) throw CliError(kExitDaemon, "the daemon's answer to the submit has no id");
    if (ids_only) ctx.out.out(printable(id) + "\n");
    if (!wait_ && !follow_) {
      if (!ids_only) print_record(ctx, record);
      return 0;
    }

    if (progress) {
      const StepCount steps = count_steps(record.value("steps", nlohmann::json()));
      progress_line = std::make_unique<ProgressLine>(ctx.out, id, steps.total);
      progress_ = progress_line.get();
    }
    if (feed) feed->watch(id);
    if (follow_) follow(ctx, id);
    const WaitOutcome outcome = wait_for_task(*connection, id, std::nullopt);
    // The transitions come in batches: --follow shows them all before the outcome.
    if (feed && follow_) feed->await_finished(kSubscribeTimeout);
    if (feed) feed->stop();
    if (progress_line) progress_line->finish();
    if (!ids_only) print_record(ctx, outcome.record);
    return exit_code_for_state(string_field(outcome.record, "state"));
  }

 private:
  // One POST of all the specs: the daemon stores all of them or none.
  static int submit_batch(const Context& ctx, Connection& connection,
                          std::vector<nlohmann::json>& specs, const httplib::Headers& headers) {
    const nlohmann::json batch(std::move(specs));
    // 200: a repeated idempotency key, answered with the tasks the first submit made.
    const nlohmann::json answer = connection.post("/api/tasks", &batch, {200, 201}, headers).body;
    const nlohmann::json ids = answer.value("ids", nlohmann::json());
    if (!ids.is_array() || ids.size() != batch.size()) {
      throw CliError(kExitDaemon, "the daemon's answer to the batch has no ids for its specs");
    }
    const Format format = ctx.out.records();
    const bool ids_only =
        ctx.out.quiet() && ctx.out.chosen().value_or(Format::table) == Format::table;
    if (format != Format::table && !ids_only) {
      ctx.out.out(json_text(answer, format));
      return 0;
    }
    std::string lines;
    for (const nlohmann::json& id : ids)
      lines += printable(id.is_string() ? id.get<std::string>() : "?") + "\n";
    ctx.out.out(lines);
    return 0;
  }

  static nlohmann::json submit(Connection& connection, const nlohmann::json& spec,
                               const httplib::Headers& headers) {
    // 200: a repeated idempotency key, answered with the task the first submit made.
    return connection.post("/api/tasks", &spec, {200, 201}, headers).body;
  }

  void print_record(const Context& ctx, const nlohmann::json& record) {
    const std::lock_guard lock(print_mu_);
    const Format format = ctx.out.records();
    if (format != Format::table) {
      ctx.out.out(json_text(record, format));
    } else if (wait_ || follow_) {
      ctx.out.out(outcome_text(record, ctx.out));
    } else {
      ctx.out.out(printable(string_field(record, "id", "?")) + "\n");
    }
  }

  // The exec output: as the processes wrote it, or JSON lines when -o asks for JSON.
  void follow(const Context& ctx, const std::string& id) {
    const std::unique_ptr<Connection> stream = ctx.connect();
    const FollowEnd end = follow_output(*stream, id, [&](const OutputChunk& c) {
      const std::lock_guard lock(print_mu_);
      if (!json_lines(ctx)) return write_chunk(c);
      ctx.out.out(json_text({{"type", "output"},
                             {"step", c.step},
                             {"stream", c.is_stderr ? "stderr" : "stdout"},
                             {"data", c.data}},
                            Format::jsonl));
    });
    if (end.lost > 0) {
      ctx.out.note(std::to_string(end.lost) +
                   " pieces of output were lost (the client fell behind)");
    }
  }

  static bool json_lines(const Context& ctx) {
    return ctx.out.chosen() && *ctx.out.chosen() != Format::table;
  }

  // On the feed's thread: the task's transitions, for the progress line or --follow.
  void on_event(const Context& ctx, const nlohmann::json& event) {
    const std::string type = string_field(event, "type");
    const std::string state = string_field(event, "state");
    if (progress_) {
      if (type == "step" && is_final_state(state))
        progress_->step_ended(string_field(event, "step"));
      if (type == "started") progress_->restart();
      return;
    }
    if (!follow_) return;
    const std::lock_guard lock(print_mu_);
    if (json_lines(ctx)) {
      ctx.out.out(json_text(event, Format::jsonl));
      return;
    }
    if (type == "finished") return;  // the outcome is printed once the wait returns
    if (type == "lost") {
      ctx.out.note(event.value("lost", nlohmann::json(0)).dump() + " transitions were lost");
      return;
    }
    std::string line =
        printable(type == "step" ? string_field(event, "step") : string_field(event, "id"));
    line += " " + printable(string_field(event, "kind"));
    if (const std::string name = string_field(event, "name"); !name.empty()) {
      line += " " + truncate_to_width(printable(name), 40);
    }
    ctx.out.err(line + " " + printable(type == "step" ? state : type) + "\n");
  }

  std::vector<std::string> files_;
  RootOverrides overrides_;
  std::string key_;
  bool wait_ = false;
  bool follow_ = false;
  std::mutex print_mu_;  // the feed's thread and the main thread both print with --follow
  ProgressLine* progress_ = nullptr;  // set before the feed delivers the task's events
};

}  // namespace

std::unique_ptr<Command> add_submit_command(CLI::App& app) {
  return std::make_unique<SubmitCommand>(app);
}

}  // namespace uasyncd::cli
