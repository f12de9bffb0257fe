#include "uasyncd/cli/schedule_format.hpp"

#include <cmath>
#include <cstdio>

#include "uasyncd/cli/safe_text.hpp"
#include "uasyncd/cli/task_format.hpp"

namespace uasyncd::cli {
namespace {

constexpr std::size_t kScheduleLabelWidth = 12;

nlohmann::json schedule_member(const nlohmann::json& record, const char* key) {
  return record.is_object() ? record.value(key, nlohmann::json()) : nlohmann::json();
}

std::string schedule_count_text(const nlohmann::json& v) {
  return v.is_number() ? v.dump() : "-";
}

}  // namespace

std::string seconds_text(double seconds) {
  if (!std::isfinite(seconds)) return "?";
  char text[64];
  std::snprintf(text, sizeof text, "%.3f", seconds);
  std::string out = text;
  while (out.back() == '0')
    out.pop_back();
  if (out.back() == '.') out.pop_back();
  return out;
}

std::string schedule_when(const nlohmann::json& record) {
  if (const nlohmann::json every = schedule_member(record, "every"); every.is_number()) {
    return "every " + seconds_text(every.get<double>()) + "s";
  }
  const std::string cron = string_field(record, "cron");
  if (cron.empty()) return "?";
  return printable(cron) + " (" + printable(string_field(record, "timezone", "UTC")) + ")";
}

std::string schedule_next_fire(const nlohmann::json& record) {
  const nlohmann::json next = schedule_member(record, "next_fires");
  if (!next.is_array() || next.empty()) return "-";
  return format_time(next.front());
}

Cell schedule_last_run(const nlohmann::json& record) {
  const nlohmann::json run = schedule_member(record, "last_run");
  if (!run.is_object()) return {"-"};
  const std::string id = printable(string_field(run, "id", "?"));
  const std::string state = string_field(run, "state");
  if (state.empty()) return {id};
  return {id + " " + printable(state), state_color(state)};
}

std::string schedule_change_line(std::string_view verb, const nlohmann::json& record) {
  std::string line =
      std::string(verb) + " schedule " + printable(string_field(record, "name", "?")) + ": ";
  if (schedule_member(record, "paused") == true) return line + "paused\n";
  return line + "next fire " + schedule_next_fire(record) + "\n";
}

std::string schedule_record_text(const nlohmann::json& record, const Output& out) {
  std::string text;
  const auto row = [&](std::string_view label, std::string_view value) {
    text += field_line(out, label, value, kScheduleLabelWidth);
  };
  row("name", printable(string_field(record, "name", "?")));
  if (const nlohmann::json every = schedule_member(record, "every"); every.is_number()) {
    row("every", seconds_text(every.get<double>()) + "s");
  } else {
    row("cron", printable(string_field(record, "cron", "?")));
    row("timezone", printable(string_field(record, "timezone", "UTC")));
  }
  row("overlap", printable(string_field(record, "overlap", "-")));
  row("catch up", printable(string_field(record, "catch_up", "-")));
  const bool paused = schedule_member(record, "paused") == true;
  row("paused", paused ? out.paint("yes", Color::yellow) : "no");
  row("created", format_time(schedule_member(record, "created")));
  const nlohmann::json next = schedule_member(record, "next_fires");
  if (!next.is_array() || next.empty()) {
    row("next fires", "-");
  } else {
    row("next fires", format_time(next.front()));
    for (std::size_t i = 1; i < next.size(); ++i)
      text += std::string(kScheduleLabelWidth, ' ') + format_time(next[i]) + "\n";
  }
  row("last fire", format_time(schedule_member(record, "last_fire")));
  const Cell last_run = schedule_last_run(record);
  row("last run", out.paint(last_run.text, last_run.color));
  row("runs", schedule_count_text(schedule_member(record, "runs")));
  row("skipped", schedule_count_text(schedule_member(record, "skipped")));
  if (const nlohmann::json waiting = schedule_member(record, "waiting_fire"); waiting.is_number()) {
    // A fire held back (overlap "queue") until the last run ends.
    row("waiting", format_time(waiting));
  }
  row("spec", one_line(schedule_member(record, "spec"), 4096));
  return text;
}

}  // namespace uasyncd::cli
