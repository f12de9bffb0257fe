// Task specs: uasyncio calls written as JSON, parsed and validated before anything runs.
//
//   {"gather": [{"sleep": 1, "name": "a"}, {"value": 42}], "return_exceptions": true}
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace uasyncd::api {

inline constexpr std::size_t kMaxBodyBytes = 1 << 20;
inline constexpr int kMaxDepth = 32;
inline constexpr std::size_t kMaxSteps = 10'000;

enum class StepKind { sleep, sleep_ms, value, fail, sequence, gather, wait_for, wait_for_ms, exec };

const char* kind_name(StepKind kind);

struct Step {
  StepKind kind = StepKind::value;
  std::string name;
  double seconds = 0;    // sleep; wait_for's timeout
  std::int64_t ms = 0;   // sleep_ms; wait_for_ms's timeout
  nlohmann::json value;  // value
  std::string message;   // fail
  bool return_exceptions = false;
  std::vector<Step> children;  // sequence, gather; wait_for's single step
  std::vector<std::string> argv;
  std::string cwd;
  std::map<std::string, std::string> env;
};

struct Spec {
  Step root;
  std::optional<double> timeout;  // the root's "timeout": a wait_for around the whole task
  int retries = 0;                // the root's "retries": re-runs after a failure or interruption
  double retry_delay = 0;         // the root's "retry_delay": first backoff, doubled each retry
  std::size_t steps = 0;          // nodes in the tree, root included
  bool uses_exec = false;
};

// Why a body was refused: an HTTP status, a machine code and a message naming the JSON path.
struct SpecError {
  int status = 400;
  std::string code;
  std::string message;
};

struct ParsedSpec {
  std::optional<Spec> spec;
  SpecError error;
  explicit operator bool() const { return spec.has_value(); }
};

// Validates an already parsed document.
ParsedSpec parse_spec(const nlohmann::json& doc);
// Size check, JSON parse (nesting bounded before any recursion) and validation of a body.
ParsedSpec parse_spec_body(std::string_view body);
// Parses a JSON body of at most kMaxBodyBytes and bounded nesting; nullopt and `error` otherwise.
std::optional<nlohmann::json> parse_json_body(std::string_view body, SpecError& error);

}  // namespace uasyncd::api
