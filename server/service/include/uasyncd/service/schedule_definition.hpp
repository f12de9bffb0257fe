// A periodic schedule as a user defines it (POST /api/schedules) and as the store keeps it: when
// it fires (a cron expression in a time zone, or a plain interval), the task spec each run gets,
// and what happens when a run is still going at the next fire (overlap) or when fires were missed
// while the daemon was down or the schedule paused (catch_up). docs/schedules.md says it for users.
//
// Pure functions and plain values: any thread.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "uasyncd/schedule/schedule.hpp"
#include "uasyncd/store/setting_row.hpp"

namespace uasyncd::server {

// A schedule's name: 1 to 128 of A-Z a-z 0-9 . _ - (it is a URL path segment and a label).
inline constexpr std::size_t kMaxScheduleNameBytes = 128;
// Schedules a daemon keeps at most: each is a sleeper on the loop and a row read at start.
inline constexpr std::size_t kMaxSchedules = 10'000;
// Fire times a schedule's record shows.
inline constexpr std::size_t kShownNextFires = 5;

// A fire comes while the schedule's last run is still scheduled, pending or running:
enum class Overlap {
  skip,   // no run for this fire (the default: a slow nightly build must not pile up)
  allow,  // a run as usual, beside the other
  queue,  // a run once the other has ended (at most one fire waits; later ones are skipped)
};
// Fires missed while no daemon ran or the schedule was paused:
enum class CatchUp {
  none,  // dropped: the next run is at the next fire (the default)
  one,   // one run at once for the latest missed fire, however many were missed
};

const char* overlap_name(Overlap o);
const char* catch_up_name(CatchUp c);

struct ScheduleDefinition {
  std::string name;
  // A cron schedule: `cron` and `timezone` (IANA, "UTC" by default); an interval: `every`
  // seconds, first fired at `start_ms`.
  std::string cron;
  std::string timezone = "UTC";
  std::optional<double> every;
  std::int64_t start_ms = 0;
  nlohmann::json spec;  // the task spec of every run (valid; without "schedule", "delay", "at")
  Overlap overlap = Overlap::skip;
  CatchUp catch_up = CatchUp::none;
  bool paused = false;
  std::int64_t created_ms = 0;
  // Kept with the definition: the last run's task id (0: none yet) and counters since creation.
  std::uint64_t last_run_id = 0;
  std::uint64_t runs = 0;     // tasks made (fires and triggers)
  std::uint64_t skipped = 0;  // fires that made no task (overlap, catch-up, a late loop)
  schedule::Schedule when;    // computed from cron/timezone or every/start_ms
};

// What was refused and why: the message starts with the JSON path ("$.cron: minute field: 61 is
// out of range 0-59"); quotes only text that passed a character check.
struct ParsedSchedule {
  std::optional<ScheduleDefinition> definition;
  std::string message;
  explicit operator bool() const { return definition.has_value(); }
};

// Whether `name` is a schedule name (kMaxScheduleNameBytes of A-Z a-z 0-9 . _ -).
bool schedule_name_ok(std::string_view name);

// A client's definition: {"name", "cron" [, "timezone"] | "every", "spec" [, "overlap",
// "catch_up", "paused"]}. Unknown keys are refused. `now_ms`: the creation time (an interval's
// first fire is `every` after it).
ParsedSchedule parse_schedule_request(const nlohmann::json& body, std::int64_t now_ms);

// The stored row of a definition (its body: JSON text), with `fired_ms`.
SettingRow schedule_row(const ScheduleDefinition& d, std::int64_t fired_ms);
// A stored row read back (checked again: a file on disk is input too).
ParsedSchedule schedule_of_row(const SettingRow& row);

}  // namespace uasyncd::server
