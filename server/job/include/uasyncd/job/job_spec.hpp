// Job specs: uasyncio calls written as JSON, parsed and validated before anything runs.
//
//   {"gather": [{"sleep": 1, "name": "a"}, {"value": 42}], "return_exceptions": true}
//
// A spec is a tree of steps; each step's kind is one of the structs below, held in a variant,
// so code that handles steps says what it does per kind (std::visit), not per tag. Immutable once
// parsed: a job and all its retries share one spec.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace uasyncd::server {

inline constexpr int kMaxSpecDepth = 32;
inline constexpr std::size_t kMaxSpecSteps = 10'000;
// A step's "name" is a label (lists, events, the dashboard, an index of the store), not a
// payload: longer ones are refused.
inline constexpr std::size_t kMaxNameBytes = 256;
// JSON nesting a spec document may have: kMaxSpecDepth steps (object and array per level) plus
// room for nested "value" payloads, small enough that no recursive walk overflows the stack.
inline constexpr int kMaxSpecJsonNesting = 4 * kMaxSpecDepth;
// How far ahead a task may be scheduled ("delay" or "at"): ten years of 365 days. Further is a
// typo (milliseconds given as seconds) more likely than a plan.
inline constexpr double kMaxDelaySeconds = 10.0 * 365 * 24 * 3600;
// A task's "priority": 0 (the default) to 9; a higher one starts first (BullMQ, River and
// Sidekiq have ten levels or fewer: more is an ordering that belongs in the client).
inline constexpr int kMaxPriority = 9;

struct StepSpec;

struct SleepStep {
  double seconds = 0;
};
struct SleepMsStep {
  std::int64_t ms = 0;
};
struct ValueStep {
  nlohmann::json value;
};
struct FailStep {
  std::string message;
};
struct SequenceStep {
  std::vector<StepSpec> steps;
};
struct GatherStep {
  std::vector<StepSpec> steps;
  bool return_exceptions = false;
};
struct WaitForStep {
  std::vector<StepSpec> step;  // exactly one
  double seconds = 0;
};
struct WaitForMsStep {
  std::vector<StepSpec> step;  // exactly one
  std::int64_t ms = 0;
};
struct ExecStep {
  std::vector<std::string> argv;
  std::string cwd;
  std::map<std::string, std::string> env;
};

using StepKind = std::variant<SleepStep, SleepMsStep, ValueStep, FailStep, SequenceStep, GatherStep,
                              WaitForStep, WaitForMsStep, ExecStep>;

struct StepSpec {
  std::string name;
  StepKind kind;
};

// The kind's key in a spec ("sleep", "gather", ...).
const char* kind_name(const StepKind& kind);
// The steps a compound step runs (empty for the others), in order.
std::span<const StepSpec> children(const StepSpec& step);

struct JobSpec {
  StepSpec root;
  std::optional<double> timeout;  // the root's "timeout": a wait_for around the whole job
  int retries = 0;                // the root's "retries": re-runs after a failure or interruption
  double retry_delay = 0;         // the root's "retry_delay": first backoff, doubled each retry
  // The root's "delay" (seconds from the submit) or "at" (an RFC 3339 time, kept as milliseconds
  // since the Unix epoch): the job is scheduled until then. At most one of the two is set.
  std::optional<double> delay;
  std::optional<std::int64_t> at_ms;
  int priority = 0;  // the root's "priority": pending jobs start highest first, FIFO within one
  // The root's "queue": the named queue whose limit and pause apply (service/named_queues.hpp).
  std::string queue = "default";
  // The root's "schedule": the periodic schedule whose run this is (empty: none). Set by the
  // daemon when a schedule fires; the HTTP API refuses it in a client's submit.
  std::string schedule;
  std::size_t steps = 0;  // nodes in the tree, root included
  bool uses_exec = false;
};

// Why a spec was refused: a machine code ("invalid_spec") and a message naming the JSON path.
struct SpecError {
  std::string code;
  std::string message;
};

struct ParsedSpec {
  std::optional<JobSpec> spec;
  SpecError error;
  explicit operator bool() const { return spec.has_value(); }
};

// A queue's name (and a schedule's): 1 to kMaxQueueNameBytes of A-Z a-z 0-9 . _ -, so it can
// be a URL path segment and a label anywhere without escaping.
inline constexpr std::size_t kMaxQueueNameBytes = 128;
bool queue_name_ok(std::string_view name);

// Validates an already parsed document (nested at most kMaxSpecJsonNesting deep). An "at" more
// than kMaxDelaySeconds past the wall clock's now is refused (a stored spec only gets nearer).
ParsedSpec parse_job_spec(const nlohmann::json& doc);

}  // namespace uasyncd::server
