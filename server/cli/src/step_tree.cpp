#include "uasyncd/cli/step_tree.hpp"

#include "uasyncd/cli/exit_codes.hpp"
#include "uasyncd/cli/safe_text.hpp"
#include "uasyncd/cli/task_format.hpp"

namespace uasyncd::cli {
namespace {

constexpr int kMaxDepth = 64;  // the daemon refuses specs nested deeper than 32

// What a finished step gave: an exec step's exit status, else its result as one line.
std::string step_outcome(const nlohmann::json& step) {
  if (const std::string error = error_text(step.value("error", nlohmann::json())); !error.empty()) {
    return error;
  }
  const nlohmann::json result = step.value("result", nlohmann::json());
  if (string_field(step, "kind") == "exec" && result.is_object()) {
    const nlohmann::json code = result.value("exit_code", nlohmann::json());
    const nlohmann::json signal = result.value("signal", nlohmann::json());
    if (signal.is_number_integer()) return "signal " + std::to_string(signal.get<int>());
    if (code.is_number_integer()) return "exit " + std::to_string(code.get<int>());
  }
  if (result.is_null()) return "";
  return "→ " + one_line(result, 60);
}

void draw(const nlohmann::json& step, const std::string& prefix, const std::string& child_prefix,
          int depth, const Output& out, std::string& text) {
  if (!step.is_object()) return;
  const std::string state = string_field(step, "state", "?");
  std::string line = prefix + printable(string_field(step, "id", "?")) + " " +
                     printable(string_field(step, "kind", "?"));
  if (const std::string name = string_field(step, "name"); !name.empty()) {
    // Appended in two steps: g++ 12 -O3 warns falsely on " " + std::string (PR 105329).
    line += ' ';
    line += truncate_to_width(printable(name), 40);
  }
  line += "  " + out.paint(printable(state), state_color(state));
  if (is_final_state(state)) {
    if (const std::string outcome = step_outcome(step); !outcome.empty()) line += "  " + outcome;
  }
  text += line + "\n";
  const auto children = step.find("steps");
  if (children == step.end() || !children->is_array() || children->empty()) return;
  if (depth >= kMaxDepth) {
    text += child_prefix + "└─ …\n";
    return;
  }
  for (std::size_t i = 0; i < children->size(); ++i) {
    const bool last = i + 1 == children->size();
    draw((*children)[i], child_prefix + (last ? "└─ " : "├─ "),
         child_prefix + (last ? "   " : "│  "), depth + 1, out, text);
  }
}

void count(const nlohmann::json& step, int depth, StepCount& n) {
  if (!step.is_object() || depth > kMaxDepth) return;
  ++n.total;
  if (is_final_state(string_field(step, "state"))) ++n.finished;
  const auto children = step.find("steps");
  if (children == step.end() || !children->is_array()) return;
  for (const nlohmann::json& c : *children)
    count(c, depth + 1, n);
}

}  // namespace

std::string render_step_tree(const nlohmann::json& root, const Output& out) {
  std::string text;
  draw(root, "", "", 0, out, text);
  return text;
}

StepCount count_steps(const nlohmann::json& root) {
  StepCount n;
  count(root, 0, n);
  return n;
}

}  // namespace uasyncd::cli
