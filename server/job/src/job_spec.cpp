#include "uasyncd/job/job_spec.hpp"

#include "uasyncd/job/rfc3339.hpp"

#include <array>
#include <chrono>
#include <cmath>
#include <utility>

namespace uasyncd::server {
namespace {

using nlohmann::json;

// Bounds on a job's re-runs: enough for any real retry policy, small enough that a typo (or a
// hostile spec) cannot keep a job cycling for days. The delay's bound is the backoff's cap (an
// hour, see retry_policy.hpp): a longer first delay would silently be cut to it.
constexpr std::int64_t kMaxRetries = 100;
constexpr double kMaxRetryDelay = 3600;

// Each kind's key, in the order the variant lists them.
constexpr std::array<const char*, std::variant_size_v<StepKind>> kKindKeys{
    "sleep", "sleep_ms", "value", "fail", "sequence", "gather", "wait_for", "wait_for_ms", "exec"};

struct Invalid {
  SpecError error;
};

[[noreturn]] void fail_at(const std::string& path, const std::string& what) {
  throw Invalid{{"invalid_spec", path + ": " + what}};
}

std::string key_path(const std::string& path, const std::string& key) {
  return path + "." + key;
}

std::string got(const char* expected, const json& j) {
  return std::string("expected ") + expected + ", got " + j.type_name();
}

double seconds_at(const json& j, const std::string& path) {
  if (!j.is_number()) fail_at(path, got("a number", j));
  const double v = j.get<double>();
  if (!std::isfinite(v)) fail_at(path, "must be finite");
  if (v < 0) fail_at(path, "must not be negative");
  return v;
}

std::int64_t ms_at(const json& j, const std::string& path) {
  if (j.is_number_unsigned()) {
    if (j.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) fail_at(path, "too large");
    return static_cast<std::int64_t>(j.get<std::uint64_t>());
  }
  if (j.is_number_integer()) {
    if (j.get<std::int64_t>() < 0) fail_at(path, "must not be negative");
    return j.get<std::int64_t>();
  }
  if (j.is_number_float() && !std::isfinite(j.get<double>())) fail_at(path, "must be finite");
  fail_at(path, got("an integer", j));
}

std::string string_at(const json& j, const std::string& path) {
  if (!j.is_string()) fail_at(path, got("a string", j));
  return j.get<std::string>();
}

// A string handed to execve (argument, variable, directory): a C string there, so a NUL would
// silently cut it short and what ran would not be what the spec shows.
std::string c_string_at(const json& j, const std::string& path) {
  std::string s = string_at(j, path);
  if (s.find('\0') != std::string::npos) fail_at(path, "must not contain a NUL byte");
  return s;
}

// Builds the variant alternative whose index is `i` (the kinds are default-constructible).
template <std::size_t... I>
StepKind kind_at(std::size_t i, std::index_sequence<I...>) {
  StepKind out;
  ((i == I ? (out.template emplace<I>(), 0) : 0), ...);
  return out;
}

class Parser {
 public:
  JobSpec run(const json& doc) {
    JobSpec spec;
    if (!doc.is_object()) fail_at("$", "a step must be an object");
    parse_step(doc, "$", 1, true, spec.root, &spec.timeout);
    if (doc.contains("retries")) {
      const std::int64_t n = ms_at(doc.at("retries"), "$.retries");
      if (n > kMaxRetries) fail_at("$.retries", "at most 100");
      spec.retries = static_cast<int>(n);
    }
    if (doc.contains("retry_delay")) {
      spec.retry_delay = seconds_at(doc.at("retry_delay"), "$.retry_delay");
      if (spec.retry_delay > kMaxRetryDelay) fail_at("$.retry_delay", "at most 3600");
    }
    parse_start(doc, spec);
    if (doc.contains("priority")) {
      const json& p = doc.at("priority");
      if (!p.is_number_integer() || p.get<std::int64_t>() < 0 ||
          p.get<std::int64_t>() > kMaxPriority) {
        fail_at("$.priority", p.is_number() ? "must be an integer from 0 to 9"
                                            : got("an integer from 0 to 9", p));
      }
      spec.priority = static_cast<int>(p.get<std::int64_t>());
    }
    if (doc.contains("queue")) {
      spec.queue = string_at(doc.at("queue"), "$.queue");
      if (!queue_name_ok(spec.queue))
        fail_at("$.queue", "1 to 128 characters of A-Z a-z 0-9 . _ -");
    }
    if (doc.contains("schedule")) {
      spec.schedule = string_at(doc.at("schedule"), "$.schedule");
      if (spec.schedule.empty() || spec.schedule.size() > kMaxNameBytes)
        fail_at("$.schedule", "1 to 256 bytes");
    }
    spec.steps = steps_;
    spec.uses_exec = uses_exec_;
    return spec;
  }

 private:
  // "delay" or "at": when the job may start.
  static void parse_start(const json& doc, JobSpec& spec) {
    if (doc.contains("delay") && doc.contains("at"))
      fail_at("$.at", "a task has a delay or an at time, not both");
    if (doc.contains("delay")) {
      spec.delay = seconds_at(doc.at("delay"), "$.delay");
      if (*spec.delay > kMaxDelaySeconds) fail_at("$.delay", "at most 315360000 (10 years)");
    }
    if (doc.contains("at")) {
      const std::string text = string_at(doc.at("at"), "$.at");
      spec.at_ms = parse_rfc3339_ms(text);
      if (!spec.at_ms) {
        fail_at("$.at",
                "expected an RFC 3339 time with an offset, like 2026-12-02T06:00:00Z or "
                "2026-12-02T07:00:00+01:00");
      }
      const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
      if (static_cast<double>(*spec.at_ms - now_ms) > kMaxDelaySeconds * 1000.0)
        fail_at("$.at", "at most 10 years ahead");
    }
  }

  void parse_step(const json& j, const std::string& path, int depth, bool root, StepSpec& out,
                  std::optional<double>* root_timeout) {
    if (!j.is_object())
      fail_at(path, std::string("a step must be an object, got ") + j.type_name());
    if (depth > kMaxSpecDepth) fail_at(path, "steps nested deeper than 32");
    if (++steps_ > kMaxSpecSteps) fail_at(path, "more than 10000 steps");
    const char* kind = nullptr;
    for (std::size_t i = 0; i < kKindKeys.size(); ++i) {
      if (!j.contains(kKindKeys[i])) continue;
      if (kind != nullptr) {
        fail_at(key_path(path, kKindKeys[i]), std::string("a step has one kind, already ") + kind);
      }
      kind = kKindKeys[i];
      out.kind = kind_at(i, std::make_index_sequence<std::variant_size_v<StepKind>>());
    }
    if (kind == nullptr) {
      fail_at(path,
              "a step needs one of sleep, sleep_ms, value, fail, sequence, gather, "
              "wait_for, wait_for_ms, exec");
    }
    const bool waits = std::holds_alternative<WaitForStep>(out.kind) ||
                       std::holds_alternative<WaitForMsStep>(out.kind);
    for (const auto& [key, v] : j.items()) {
      const std::string at = key_path(path, key);
      if (key == kind) continue;
      if (key == "name") {
        out.name = string_at(v, at);
        if (out.name.size() > kMaxNameBytes) fail_at(at, "at most 256 bytes");
      } else if (root &&
                 (key == "retries" || key == "retry_delay" || key == "delay" || key == "at" ||
                  key == "priority" || key == "schedule" || key == "queue")) {
        continue;  // read by run()
      } else if (key == "timeout" && (waits || root)) {
        if (!waits) *root_timeout = seconds_at(v, at);
      } else if (auto* g = std::get_if<GatherStep>(&out.kind); g && key == "return_exceptions") {
        if (!v.is_boolean()) fail_at(at, got("a boolean", v));
        g->return_exceptions = v.get<bool>();
      } else if (auto* e = std::get_if<ExecStep>(&out.kind); e && (key == "cwd" || key == "env")) {
        parse_exec_option(key, v, at, *e);
      } else {
        fail_at(at, "unknown key");
      }
    }
    const std::string at = key_path(path, kind);
    const json& arg = j.at(kind);
    const auto list = [&](std::vector<StepSpec>& steps) {
      if (!arg.is_array()) fail_at(at, got("an array", arg));
      steps.resize(arg.size());
      for (std::size_t i = 0; i < arg.size(); ++i)
        parse_step(arg[i], at + "[" + std::to_string(i) + "]", depth + 1, false, steps[i], nullptr);
    };
    const auto waited = [&](std::vector<StepSpec>& step) {
      step.resize(1);
      parse_step(arg, at, depth + 1, false, step[0], nullptr);
    };
    const std::string timeout_at = key_path(path, "timeout");
    if (waits && !j.contains("timeout")) fail_at(timeout_at, "required");
    std::visit(
        [&](auto& k) {
          using K = std::decay_t<decltype(k)>;
          if constexpr (std::is_same_v<K, SleepStep>) {
            k.seconds = seconds_at(arg, at);
          } else if constexpr (std::is_same_v<K, SleepMsStep>) {
            k.ms = ms_at(arg, at);
          } else if constexpr (std::is_same_v<K, ValueStep>) {
            k.value = arg;
          } else if constexpr (std::is_same_v<K, FailStep>) {
            k.message = string_at(arg, at);
          } else if constexpr (std::is_same_v<K, SequenceStep> || std::is_same_v<K, GatherStep>) {
            list(k.steps);
          } else if constexpr (std::is_same_v<K, WaitForStep>) {
            k.seconds = seconds_at(j.at("timeout"), timeout_at);
            waited(k.step);
          } else if constexpr (std::is_same_v<K, WaitForMsStep>) {
            k.ms = ms_at(j.at("timeout"), timeout_at);
            waited(k.step);
          } else {
            static_assert(std::is_same_v<K, ExecStep>);
            uses_exec_ = true;
            if (!arg.is_array() || arg.empty())
              fail_at(at, "expected a non-empty array of strings");
            for (std::size_t i = 0; i < arg.size(); ++i) {
              const std::string item_at = at + "[" + std::to_string(i) + "]";
              if (!arg[i].is_string()) fail_at(item_at, "expected a string");
              k.argv.push_back(c_string_at(arg[i], item_at));
            }
          }
        },
        out.kind);
  }

  static void parse_exec_option(const std::string& key, const json& v, const std::string& at,
                                ExecStep& out) {
    if (key == "cwd") {
      out.cwd = c_string_at(v, at);
      return;
    }
    if (!v.is_object()) fail_at(at, got("an object", v));
    for (const auto& [name, value] : v.items()) {
      // The child sees "name=value": an empty name or one holding '=' would set another variable.
      const std::string name_at = key_path(at, name);
      if (name.empty()) fail_at(at, "a variable name must not be empty");
      if (name.find('=') != std::string::npos)
        fail_at(name_at, "a variable name must not contain '='");
      if (name.find('\0') != std::string::npos) fail_at(name_at, "must not contain a NUL byte");
      if (!value.is_string()) fail_at(name_at, "expected a string");
      out.env[name] = c_string_at(value, name_at);
    }
  }

  std::size_t steps_ = 0;
  bool uses_exec_ = false;
};

}  // namespace

const char* kind_name(const StepKind& kind) {
  return kKindKeys[kind.index()];
}

std::span<const StepSpec> children(const StepSpec& step) {
  return std::visit(
      [](const auto& k) -> std::span<const StepSpec> {
        using K = std::decay_t<decltype(k)>;
        if constexpr (std::is_same_v<K, SequenceStep> || std::is_same_v<K, GatherStep>) {
          return k.steps;
        } else if constexpr (std::is_same_v<K, WaitForStep> || std::is_same_v<K, WaitForMsStep>) {
          return k.step;
        } else {
          return {};
        }
      },
      step.kind);
}

bool queue_name_ok(std::string_view name) {
  if (name.empty() || name.size() > kMaxQueueNameBytes) return false;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

ParsedSpec parse_job_spec(const json& doc) {
  ParsedSpec out;
  try {
    out.spec = Parser().run(doc);
  } catch (Invalid& e) {
    out.error = std::move(e.error);
  }
  return out;
}

}  // namespace uasyncd::server
