// A task's step tree drawn as a tree, one step a line:
//   t1.0 gather seed-gather  done  → [null,42,…]
//   ├─ t1.1 sleep bar  cancelled  CancelledError
//   └─ t1.5 wait_for  timed_out  TimeoutError
//      └─ t1.6 sleep foo  cancelled  CancelledError
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "uasyncd/cli/output.hpp"

namespace uasyncd::cli {

// `root` is the record's "steps" object ({id, kind, name, state, result, error, steps: [...]}).
// Text from the daemon is made printable; a tree deeper than the daemon allows (32) is cut.
std::string render_step_tree(const nlohmann::json& root, const Output& out);

// How many steps the tree has (the root included), and how many of them have ended.
struct StepCount {
  std::size_t total = 0;
  std::size_t finished = 0;
};
StepCount count_steps(const nlohmann::json& root);

}  // namespace uasyncd::cli
