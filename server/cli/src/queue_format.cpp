#include "uasyncd/cli/queue_format.hpp"

#include <cstdio>

#include "uasyncd/cli/table.hpp"
#include "uasyncd/cli/task_format.hpp"

namespace uasyncd::cli {
namespace {

nlohmann::json queue_member(const nlohmann::json& queue, const char* key) {
  return queue.is_object() ? queue.value(key, nlohmann::json()) : nlohmann::json();
}

std::string queue_count_text(const nlohmann::json& v) {
  return v.is_number() ? v.dump() : "-";
}

std::string queue_limit_text(const nlohmann::json& v) {
  if (v.is_number() && v.get<double>() == 0) return "no limit";
  return queue_count_text(v);
}

std::string queue_rate_text(const nlohmann::json& v) {
  if (!v.is_number()) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", v.get<double>());
  return text;
}

}  // namespace

std::string queue_table_text(const nlohmann::json& queues, const Output& out) {
  // Wide enough for any name (128): a cut name could not be given to `queue set`.
  Table table({"NAME", "MAX RUNNING", "PAUSED", "RUNNING", "PENDING", "SCHEDULED", "FINISHED/S"},
              128);
  if (queues.is_array()) {
    for (const nlohmann::json& q : queues) {
      const bool paused = queue_member(q, "paused") == true;
      table.add_row({{string_field(q, "name", "?")},
                     {queue_limit_text(queue_member(q, "max_running"))},
                     paused ? Cell{"yes", Color::yellow} : Cell{"no"},
                     {queue_count_text(queue_member(q, "running"))},
                     {queue_count_text(queue_member(q, "pending"))},
                     {queue_count_text(queue_member(q, "scheduled"))},
                     {queue_rate_text(queue_member(q, "finished_per_second"))}});
    }
  }
  return table.render(out);
}

}  // namespace uasyncd::cli
