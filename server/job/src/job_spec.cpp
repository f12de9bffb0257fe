#include "uasyncd/api/spec.hpp"

#include <array>
#include <cmath>
#include <utility>

namespace uasyncd::api {
namespace {

using nlohmann::json;

// Raw JSON nesting allowed before validation: enough for kMaxDepth steps (object + array per
// level) plus room for nested "value" payloads, small enough that no recursive walk overflows.
constexpr int kMaxJsonNesting = 4 * kMaxDepth;
// Bounds on a task's re-runs: enough for any real retry policy, small enough that a typo (or a
// hostile spec) cannot keep a task cycling for days. The delay's bound is the backoff's cap (an
// hour, task_recovery.cpp): a longer first delay would silently be cut to it.
constexpr std::int64_t kMaxRetries = 100;
constexpr double kMaxRetryDelay = 3600;

constexpr std::array<std::pair<const char*, StepKind>, 9> kKinds{{
    {"sleep", StepKind::sleep},
    {"sleep_ms", StepKind::sleep_ms},
    {"value", StepKind::value},
    {"fail", StepKind::fail},
    {"sequence", StepKind::sequence},
    {"gather", StepKind::gather},
    {"wait_for", StepKind::wait_for},
    {"wait_for_ms", StepKind::wait_for_ms},
    {"exec", StepKind::exec},
}};

struct Invalid {
  SpecError error;
};

[[noreturn]] void fail_at(const std::string& path, const std::string& what) {
  throw Invalid{{400, "invalid_spec", path + ": " + what}};
}

std::string key_path(const std::string& path, const std::string& key) {
  return path + "." + key;
}

const char* type_name(const json& j) {
  return j.type_name();
}

double seconds_at(const json& j, const std::string& path) {
  if (!j.is_number()) fail_at(path, std::string("expected a number, got ") + type_name(j));
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
  fail_at(path, std::string("expected an integer, got ") + type_name(j));
}

class Parser {
 public:
  Spec run(const json& doc) {
    Spec spec;
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
    spec.steps = steps_;
    spec.uses_exec = uses_exec_;
    return spec;
  }

 private:
  void parse_step(const json& j, const std::string& path, int depth, bool root, Step& out,
                  std::optional<double>* root_timeout) {
    if (!j.is_object()) fail_at(path, std::string("a step must be an object, got ") + type_name(j));
    if (depth > kMaxDepth) fail_at(path, "steps nested deeper than 32");
    if (++steps_ > kMaxSteps) fail_at(path, "more than 10000 steps");
    const char* kind = nullptr;
    for (const auto& [key, kind_value] : kKinds) {
      if (!j.contains(key)) continue;
      if (kind != nullptr) {
        fail_at(key_path(path, key), std::string("a step has one kind, already ") + kind);
      }
      kind = key;
      out.kind = kind_value;
    }
    if (kind == nullptr) {
      fail_at(path,
              "a step needs one of sleep, sleep_ms, value, fail, sequence, gather, "
              "wait_for, wait_for_ms, exec");
    }
    const bool waits = out.kind == StepKind::wait_for || out.kind == StepKind::wait_for_ms;
    for (const auto& [key, v] : j.items()) {
      const std::string at = key_path(path, key);
      if (key == kind) continue;
      if (key == "name") {
        if (!v.is_string()) fail_at(at, std::string("expected a string, got ") + type_name(v));
        out.name = v.get<std::string>();
      } else if (root && (key == "retries" || key == "retry_delay")) {
        continue;  // read by run()
      } else if (key == "timeout" && (waits || root)) {
        if (!waits) *root_timeout = seconds_at(v, at);
      } else if (key == "return_exceptions" && out.kind == StepKind::gather) {
        if (!v.is_boolean()) fail_at(at, std::string("expected a boolean, got ") + type_name(v));
        out.return_exceptions = v.get<bool>();
      } else if ((key == "cwd" || key == "env") && out.kind == StepKind::exec) {
        parse_exec_option(key, v, at, out);
      } else {
        fail_at(at, "unknown key");
      }
    }
    const std::string at = key_path(path, kind);
    const json& arg = j.at(kind);
    switch (out.kind) {
      case StepKind::sleep:
        out.seconds = seconds_at(arg, at);
        break;
      case StepKind::sleep_ms:
        out.ms = ms_at(arg, at);
        break;
      case StepKind::value:
        out.value = arg;
        break;
      case StepKind::fail:
        if (!arg.is_string()) fail_at(at, std::string("expected a string, got ") + type_name(arg));
        out.message = arg.get<std::string>();
        break;
      case StepKind::sequence:
      case StepKind::gather:
        if (!arg.is_array()) fail_at(at, std::string("expected an array, got ") + type_name(arg));
        out.children.resize(arg.size());
        for (std::size_t i = 0; i < arg.size(); ++i) {
          parse_step(arg[i], at + "[" + std::to_string(i) + "]", depth + 1, false, out.children[i],
                     nullptr);
        }
        break;
      case StepKind::wait_for:
      case StepKind::wait_for_ms: {
        if (!j.contains("timeout")) fail_at(key_path(path, "timeout"), "required");
        const std::string tat = key_path(path, "timeout");
        if (out.kind == StepKind::wait_for) {
          out.seconds = seconds_at(j.at("timeout"), tat);
        } else {
          out.ms = ms_at(j.at("timeout"), tat);
        }
        out.children.resize(1);
        parse_step(arg, at, depth + 1, false, out.children[0], nullptr);
        break;
      }
      case StepKind::exec:
        uses_exec_ = true;
        if (!arg.is_array() || arg.empty()) fail_at(at, "expected a non-empty array of strings");
        for (std::size_t i = 0; i < arg.size(); ++i) {
          if (!arg[i].is_string()) {
            fail_at(at + "[" + std::to_string(i) + "]", "expected a string");
          }
          out.argv.push_back(arg[i].get<std::string>());
        }
        break;
    }
  }

  static void parse_exec_option(const std::string& key, const json& v, const std::string& at,
                                Step& out) {
    if (key == "cwd") {
      if (!v.is_string()) fail_at(at, std::string("expected a string, got ") + type_name(v));
      out.cwd = v.get<std::string>();
      return;
    }
    if (!v.is_object()) fail_at(at, std::string("expected an object, got ") + type_name(v));
    for (const auto& [name, value] : v.items()) {
      if (!value.is_string()) fail_at(key_path(at, name), "expected a string");
      out.env[name] = value.get<std::string>();
    }
  }

  std::size_t steps_ = 0;
  bool uses_exec_ = false;
};

struct TooDeep {};

}  // namespace

const char* kind_name(StepKind kind) {
  for (const auto& [name, k] : kKinds) {
    if (k == kind) return name;
  }
  return "?";
}

ParsedSpec parse_spec(const json& doc) {
  ParsedSpec out;
  try {
    out.spec = Parser().run(doc);
  } catch (Invalid& e) {
    out.error = std::move(e.error);
  }
  return out;
}

std::optional<json> parse_json_body(std::string_view body, SpecError& error) {
  if (body.size() > kMaxBodyBytes) {
    error = {413, "payload_too_large", "the body is larger than 1 MiB"};
    return std::nullopt;
  }
  // The callback sees every nesting level as it is entered, so a hostile document is refused
  // before a recursive dump or walk could run out of stack.
  const json::parser_callback_t bound = [](int depth, json::parse_event_t, json&) {
    if (depth > kMaxJsonNesting) throw TooDeep{};
    return true;
  };
  try {
    return json::parse(body, bound);
  } catch (const TooDeep&) {
    error = {400, "invalid_json", "$: JSON nested too deeply"};
  } catch (const json::exception& e) {  // parse_error, and out_of_range for 1e999
    error = {400, "invalid_json", std::string("malformed JSON: ") + e.what()};
  }
  return std::nullopt;
}

ParsedSpec parse_spec_body(std::string_view body) {
  ParsedSpec out;
  std::optional<json> doc = parse_json_body(body, out.error);
  if (!doc) return out;
  return parse_spec(*doc);
}

}  // namespace uasyncd::api
