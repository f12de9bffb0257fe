// Named queues' settings: stored as settings rows (kind "queue", body {"max_running", "paused"}),
// read back at start, with the limits given by flags over them, and changed at run time by
// PUT /api/queues/{name}.
#include <spdlog/spdlog.h>

#include "uasyncd/service/job_service.hpp"

namespace uasyncd::server {
namespace {

using nlohmann::json;

SettingRow queue_row(const std::string& name, const QueueConfig& config) {
  SettingRow row;
  row.kind = SettingKind::queue;
  row.name = name;
  row.body = json{{"max_running", config.max_running}, {"paused", config.paused}}.dump();
  return row;
}

// A stored body read back (a file on disk is input too); nullopt when it is not one.
std::optional<QueueConfig> queue_config_of(const std::string& body) {
  const json j = json::parse(body, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  QueueConfig c;
  const auto max = j.find("max_running");
  const auto paused = j.find("paused");
  if (max == j.end() || !max->is_number_unsigned() || paused == j.end() || !paused->is_boolean())
    return std::nullopt;
  c.max_running = max->get<std::size_t>();
  c.paused = paused->get<bool>();
  return c;
}

}  // namespace

void JobService::restore_queues() {
  for (const SettingRow& row : backend_.load_settings(SettingKind::queue)) {
    const std::optional<QueueConfig> config = queue_config_of(row.body);
    if (!config || !queue_name_ok(row.name) || !queues_.has_room()) {
      spdlog::error("queue {} cannot be read back, left in the store",
                    queue_name_ok(row.name) ? row.name : "(a bad name)");
      continue;
    }
    queues_.configure(row.name, *config);
  }
  // Flags given at start replace the stored limits (not the pause: that is run-time state).
  std::map<std::string, std::size_t> given = options_.queue_limits;
  if (options_.max_running_given) given[kDefaultQueue] = options_.max_running;
  for (const auto& [name, limit] : given) {
    const NamedQueues::Queue* was = queues_.find(name);
    QueueConfig config = was != nullptr ? was->config : QueueConfig{};
    const bool changed = was == nullptr || !was->configured || config.max_running != limit;
    config.max_running = limit;
    queues_.configure(name, config);
    if (changed) backend_.put_setting(queue_row(name, config));
  }
}

json JobService::queue_json(const std::string& name, const NamedQueues::Queue& q) const {
  return json{{"name", name},
              {"max_running", q.config.max_running},
              {"paused", q.config.paused},
              {"running", q.running},
              {"pending", q.pending.size()},
              {"scheduled", q.scheduled},
              {"finished_per_second", queues_.finished_per_second(q, wall_ms() / 1000)}};
}

Result<json> JobService::queue(const std::string& name) const {
  const NamedQueues::Queue* q = queues_.find(name);
  if (q == nullptr) {
    return JobError{JobErrorCode::not_found,
                    "no queue named " + name + " (PUT /api/queues/" + name + " makes one)"};
  }
  return queue_json(name, *q);
}

json JobService::queue_list() const {
  json out = json::array();
  for (const auto& [name, q] : queues_)
    out.push_back(queue_json(name, q));
  return out;
}

Result<json> JobService::set_queue(const std::string& name, std::optional<std::size_t> max_running,
                                   std::optional<bool> paused, WriteTicket& ticket) {
  if (queues_.find(name) == nullptr && !queues_.has_room()) {
    return JobError{JobErrorCode::invalid, "this daemon has 1000 queues already"};
  }
  NamedQueues::Queue& q = queues_.at(name);
  QueueConfig config = q.config;
  if (max_running) config.max_running = *max_running;
  if (paused) config.paused = *paused;
  queues_.configure(name, config);
  ticket = backend_.put_setting(queue_row(name, config));
  spdlog::info("queue {}: max_running {}, {}", name, config.max_running,
               config.paused ? "paused" : "not paused");
  start_pending();  // a raised limit or a resume lets tasks start now
  return queue_json(name, q);
}

}  // namespace uasyncd::server
