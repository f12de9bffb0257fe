#include "uasyncd/cli/task_format.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>

#include "uasyncd/cli/safe_text.hpp"

namespace uasyncd::cli {

std::string string_field(const nlohmann::json& object, std::string_view key,
                         std::string_view fallback) {
  if (!object.is_object()) return std::string(fallback);
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::string(fallback);
  return it->get<std::string>();
}

std::string format_time(const nlohmann::json& seconds) {
  if (!seconds.is_number()) return "-";
  const double s = seconds.get<double>();
  if (!std::isfinite(s) || s < 0 || s > 1e12) return "-";
  const auto t = static_cast<std::time_t>(s);
  std::tm local{};
  if (localtime_r(&t, &local) == nullptr) return "-";
  char text[32];
  if (std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &local) == 0) return "-";
  return text;
}

std::string format_duration(const nlohmann::json& seconds) {
  if (!seconds.is_number()) return "-";
  const double s = seconds.get<double>();
  if (!std::isfinite(s) || s < 0) return "-";
  char text[48];
  if (s < 60) {
    std::snprintf(text, sizeof text, "%.3fs", s);
  } else if (s < 3600) {
    const auto whole = static_cast<long long>(s);
    std::snprintf(text, sizeof text, "%lldm%02llds", whole / 60, whole % 60);
  } else {
    const auto minutes = static_cast<long long>(s / 60);
    std::snprintf(text, sizeof text, "%lldh%02lldm", minutes / 60, minutes % 60);
  }
  return text;
}

Color state_color(std::string_view state) {
  if (state == "done") return Color::green;
  if (state == "failed") return Color::red;
  if (state == "timed_out" || state == "cancelled") return Color::yellow;
  if (state == "running") return Color::cyan;
  if (state == "pending" || state == "scheduled") return Color::dim;
  if (state == "interrupted") return Color::magenta;
  return Color::none;
}

std::string error_text(const nlohmann::json& error) {
  if (!error.is_object()) return "";
  const std::string type = string_field(error, "type", "Error");
  const std::string message = string_field(error, "message");
  return printable(message.empty() ? type : type + ": " + message);
}

std::string one_line(const nlohmann::json& value, std::size_t max_width) {
  return truncate_to_width(
      printable(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)), max_width);
}

std::string field_line(const Output& out, std::string_view label, std::string_view value,
                       std::size_t width) {
  const std::size_t pad = width > label.size() ? width - label.size() : 1;
  return out.paint(label, Color::bold) + std::string(pad, ' ') + std::string(value) + "\n";
}

std::string outcome_text(const nlohmann::json& record, const Output& out) {
  const std::string state = string_field(record, "state", "?");
  std::string text = printable(string_field(record, "id", "?")) + " " +
                     out.paint(printable(state), state_color(state));
  const nlohmann::json duration =
      record.is_object() ? record.value("duration", nlohmann::json()) : nlohmann::json();
  if (duration.is_number()) text += " in " + format_duration(duration);
  text += "\n";
  if (!record.is_object()) return text;
  if (const auto e = record.find("error"); e != record.end() && e->is_object()) {
    text += "error: " + error_text(*e) + "\n";
  } else if (const auto r = record.find("result"); r != record.end() && !r->is_null()) {
    text += "result: " + one_line(*r, 4096) + "\n";
  }
  return text;
}

}  // namespace uasyncd::cli
