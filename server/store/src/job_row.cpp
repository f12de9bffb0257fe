#include "uasyncd/store/job_row.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>  // std::in_range
#include <vector>

namespace uasyncd::server {
namespace {

using nlohmann::json;

// Deeper than any row the writer makes (a result nests at most a spec's values plus a level per
// step), shallow enough that no recursive walk of a damaged one overflows the stack: nlohmann's
// MessagePack reader and dump() recurse once per level.
constexpr int kMaxRowNesting = 2 * kMaxSpecJsonNesting;

[[noreturn]] void too_deep() {
  throw std::out_of_range("damaged row: nested deeper than " + std::to_string(kMaxRowNesting));
}

// A JSON text column, refused (out_of_range) past kMaxRowNesting.
json parse_column(const std::string& text) {
  const json::parser_callback_t bound = [](int depth, json::parse_event_t, json&) {
    if (depth > kMaxRowNesting) too_deep();
    return true;
  };
  return json::parse(text, bound);
}

// Builds the document as from_msgpack does, refusing it before the reader recurses too deep.
class BoundedMsgpack : public nlohmann::detail::json_sax_dom_parser<json> {
 public:
  explicit BoundedMsgpack(json& out) : json_sax_dom_parser(out, true) {}
  bool start_object(std::size_t n) {
    enter();
    return json_sax_dom_parser::start_object(n);
  }
  bool end_object() {
    --depth_;
    return json_sax_dom_parser::end_object();
  }
  bool start_array(std::size_t n) {
    enter();
    return json_sax_dom_parser::start_array(n);
  }
  bool end_array() {
    --depth_;
    return json_sax_dom_parser::end_array();
  }

 private:
  void enter() {
    if (++depth_ > kMaxRowNesting) too_deep();
  }
  int depth_ = 0;
};

json parse_msgpack_column(const std::string& blob) {
  json out;
  BoundedMsgpack sax(out);
  json::sax_parse(blob, &sax, json::input_format_t::msgpack);
  return out;
}

// A number the writer stores as an integer of type Int. Anything else means a damaged row, which
// is refused: nlohmann's get<Int>() would convert a float or an out-of-range value regardless
// (undefined behaviour for a float too large for Int).
template <typename Int>
Int integer_at(const json& j) {
  if (j.is_number_unsigned()) {
    const auto v = j.get<std::uint64_t>();
    if (std::in_range<Int>(v)) return static_cast<Int>(v);
  } else if (j.is_number_integer()) {
    const auto v = j.get<std::int64_t>();
    if (std::in_range<Int>(v)) return static_cast<Int>(v);
  }
  throw std::out_of_range(std::string("damaged row: expected an integer in range, got ") +
                          (j.is_number() ? j.dump() : j.type_name()));
}

// Per step, in preorder: [state, result, error type or null, error message, started, finished].
std::string steps_text(const Job& job) {
  json steps = json::array();
  for (const JobStep& s : job.steps()) {
    json e = s.error() ? json(s.error()->type) : json(nullptr);
    steps.push_back(json::array({state_name(s.state()), s.result(), std::move(e),
                                 s.error() ? s.error()->message : std::string(), s.started_ms(),
                                 s.finished_ms()}));
  }
  return json_text(steps);
}

bool all_pending(const Job& job) {
  return std::all_of(job.steps().begin(), job.steps().end(),
                     [](const JobStep& s) { return s.state() == JobState::pending; });
}

json capture_json(const StreamCapture& c) {
  // Untruncated, the tail is the end of what was kept: stored once.
  return json::array({c.kept(), c.truncated() ? json(c.tail()) : json(nullptr), c.bytes()});
}

void restore_capture(StreamCapture& c, const json& j) {
  std::string kept = j.at(0).get<std::string>();
  std::string tail = j.at(1).is_null()
                         ? kept.substr(kept.size() - std::min(kept.size(), kTailBytes))
                         : j.at(1).get<std::string>();
  c.restore(std::move(kept), std::move(tail), integer_at<std::uint64_t>(j.at(2)));
}

// One exec step's output as MessagePack: unlike JSON text it keeps bytes that are not UTF-8 as
// they were, so byte counts and truncation still agree. [pid, exit code or null, signal, stdout,
// stderr] (StepOutput::body).
std::string output_body(const ExecOutput& e) {
  const json body = json::array({e.pid, e.exit_code ? json(*e.exit_code) : json(nullptr),
                                 e.term_signal, capture_json(e.out), capture_json(e.err)});
  const std::vector<std::uint8_t> bytes = json::to_msgpack(body);
  return std::string(bytes.begin(), bytes.end());
}

// Restores one step's output from `o`, whose fields start at `at` (1 in a legacy body's element,
// which begins with the index; 0 in a step's own body).
void restore_output(Job& job, std::size_t index, const json& o, std::size_t at) {
  if (index >= job.steps().size()) return;
  auto e = std::make_unique<ExecOutput>();
  e->pid = integer_at<int>(o.at(at));
  if (!o.at(at + 1).is_null()) e->exit_code = integer_at<int>(o.at(at + 1));
  e->term_signal = integer_at<int>(o.at(at + 2));
  restore_capture(e->out, o.at(at + 3));
  restore_capture(e->err, o.at(at + 4));
  e->stored = true;  // read from the store: never written again
  job.restore_exec(index, std::move(e));
}

// In step order, a legacy body first: a step's own row (written after the migration) wins.
void apply_outputs(Job& job, const std::vector<StepOutput>& outputs) {
  for (const StepOutput& o : outputs) {
    const json body = parse_msgpack_column(o.body);
    if (o.step == kLegacyOutputs) {
      for (const json& each : body)
        restore_output(job, integer_at<std::size_t>(each.at(0)), each, 1);
    } else if (o.step >= 0) {
      restore_output(job, static_cast<std::size_t>(o.step), body, 0);
    }
  }
}

void apply_steps(Job& job, const std::string& text) {
  const json steps = parse_column(text);
  for (std::size_t i = 0; i < steps.size() && i < job.steps().size(); ++i) {
    const json& s = steps[i];
    std::optional<ErrorInfo> error;
    if (!s.at(2).is_null())
      error = ErrorInfo{s.at(2).get<std::string>(), s.at(3).get<std::string>()};
    job.restore_step(i, parse_state(s.at(0).get<std::string>()).value_or(JobState::interrupted),
                     s.at(1), std::move(error), integer_at<std::int64_t>(s.at(4)),
                     integer_at<std::int64_t>(s.at(5)));
  }
}

}  // namespace

JobRow row_of(const Job& job, bool insert) {
  JobRow row;
  row.id = job.id();
  if (insert) {
    row.spec = json_text(job.spec_json());
    row.name = job.name();
    row.kind = kind_name(job.spec().root.kind);
    row.idempotency_key = job.idempotency_key();
    row.queue = job.spec().queue;
    row.priority = job.spec().priority;
  }
  row.state = job.state();
  row.attempts = job.attempts();
  row.created_ms = job.created_ms();
  row.run_at_ms = job.run_at_ms();
  row.started_ms = job.started_ms();
  row.finished_ms = job.finished_ms();
  row.interrupted_at_ms = job.interrupted_at_ms();
  if (is_final(job.state())) {
    row.result = json_text(job.result());
    row.error = job.error();
  }
  // Steps are written at every change, so that a crash shows how far a running job got. All
  // pending (a new job, a requeued one) is "[]", which an update writes over whatever a previous
  // run left; an insert needs nothing.
  if (!all_pending(job)) {
    row.steps = steps_text(job);
  } else if (!insert) {
    row.steps = "[]";
  }
  // A job with no exec output at all (not started, or a new run): a previous run's output must
  // not show through.
  if (!insert && job.spec().uses_exec) {
    row.outputs_reset = std::none_of(job.steps().begin(), job.steps().end(),
                                     [](const JobStep& s) { return s.exec() != nullptr; });
  }
  return row;
}

void add_new_outputs(Job& job, JobRow& row) {
  for (std::size_t i = 0; i < job.steps().size(); ++i) {
    ExecOutput* e = job.exec(i);
    if (e == nullptr || e->running || e->stored) continue;
    row.outputs.push_back({static_cast<std::int64_t>(i), output_body(*e)});
    e->stored = true;
  }
}

void apply_update(JobRow& stored, JobRow&& update) {
  stored.state = update.state;
  stored.attempts = update.attempts;
  stored.run_at_ms = update.run_at_ms;
  stored.started_ms = update.started_ms;
  stored.finished_ms = update.finished_ms;
  stored.interrupted_at_ms = update.interrupted_at_ms;
  stored.result = std::move(update.result);
  stored.error = std::move(update.error);
  if (!update.steps.empty()) stored.steps = std::move(update.steps);
  if (update.outputs_reset) {
    stored.outputs.clear();
    stored.outputs_reset = true;
  }
  for (StepOutput& o : update.outputs) {
    auto same = std::find_if(stored.outputs.begin(), stored.outputs.end(),
                             [&](const StepOutput& s) { return s.step == o.step; });
    if (same != stored.outputs.end()) {
      same->body = std::move(o.body);
    } else {
      stored.outputs.push_back(std::move(o));
    }
  }
  stored.released = update.released;
}

std::shared_ptr<Job> job_of(const JobRow& row, std::string& why) {
  try {
    auto spec_json = std::make_shared<json>(parse_column(row.spec));
    ParsedSpec parsed = parse_job_spec(*spec_json);
    if (!parsed) {
      why = "stored spec no longer valid: " + parsed.error.message;
      return nullptr;
    }
    auto job = std::make_shared<Job>(row.id, std::make_shared<JobSpec>(std::move(*parsed.spec)),
                                     std::move(spec_json), row.created_ms);
    job->set_idempotency_key(row.idempotency_key);
    Job::Stored stored;
    stored.state = row.state;
    stored.attempts = row.attempts;
    stored.run_at_ms = row.run_at_ms;
    stored.started_ms = row.started_ms;
    stored.finished_ms = row.finished_ms;
    stored.interrupted_at_ms = row.interrupted_at_ms;
    if (!row.result.empty()) stored.result = parse_column(row.result);
    stored.error = row.error;
    job->restore(std::move(stored));
    if (!row.steps.empty()) apply_steps(*job, row.steps);
    apply_outputs(*job, row.outputs);
    return job;
  } catch (const std::exception& e) {  // json parse or type errors in a damaged row
    why = e.what();
    return nullptr;
  }
}

JobSummary summary_of(const JobRow& row) {
  JobSummary s;
  s.id = row.id;
  s.name = row.name;
  s.kind = row.kind;
  s.state = row.state;
  s.attempts = row.attempts;
  s.created_ms = row.created_ms;
  s.run_at_ms = row.run_at_ms;
  s.started_ms = row.started_ms;
  s.finished_ms = row.finished_ms;
  if (!row.result.empty()) {
    // A damaged result shows as null rather than failing the whole list.
    try {
      s.result = parse_column(row.result);
    } catch (const std::exception&) {
      s.result = nullptr;
    }
  }
  s.error = row.error;
  return s;
}

}  // namespace uasyncd::server
