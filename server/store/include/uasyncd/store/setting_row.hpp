// Named settings kept beside the jobs, in the same store and the same transactions: periodic
// schedules and queues. The store keeps their bodies as opaque JSON text; what they mean is the
// service's business (service/schedule_definition.hpp). A plain value: any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace uasyncd::server {

enum class SettingKind { schedule, queue };

// "schedule" or "queue": the kind's name as stored.
const char* setting_kind_name(SettingKind kind);
std::optional<SettingKind> parse_setting_kind(std::string_view name);

struct SettingRow {
  SettingKind kind = SettingKind::schedule;
  std::string name;  // unique per kind
  std::string body;  // JSON text
  // A schedule: the latest occurrence it fired (or skipped), in ms since the Unix epoch. Written
  // in the same transaction as the task that occurrence made, so a restart (or, in a shared
  // database, another daemon) never fires it again. 0 for queues.
  std::int64_t fired_ms = 0;
  bool erase = false;  // in a write: the row is deleted (body and fired_ms unused)
  // A schedule's run written to a database several daemons share (JobBackend::insert_fired):
  // the run's job, kept only if this daemon is the first to fire this occurrence (`occurrence`:
  // a fired_ms later than the stored one; a manual trigger is not one) of the schedule as it
  // is stored (not deleted, paused or changed elsewhere meanwhile); else the job's row goes in
  // the same transaction, so each occurrence fires once in the cluster.
  std::uint64_t guard_job = 0;
  bool occurrence = false;
};

}  // namespace uasyncd::server
