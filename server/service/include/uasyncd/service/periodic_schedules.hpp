// Periodic schedules on the loop: each one is a task that sleeps until its next fire time (the
// scheduler's own timers order them: no second timer wheel), then makes a run (an ordinary task
// whose spec carries "schedule": name) through the JobService, writing the run and the fired
// occurrence in one transaction, so an occurrence never fires twice, across restarts and kill -9
// included. Overlap and catch-up policies: schedule_definition.hpp.
//
// Time: fire times are wall-clock instants, read through ScheduleOptions::now_ms (the wall clock;
// tests pass the virtual clock's); a sleeper sleeps at most kMaxScheduleSleepMs at a time and
// looks at the clock again, so a wall clock that was set, or a suspended machine, costs at most
// that much lateness.
//
// Threads: created, called and destroyed on the loop thread only (the bridge posts to it), after
// the JobService it submits to and destroyed before it. Results are JSON records and JobErrors.
#pragma once

#include <nlohmann/json.hpp>
#include <uasyncio/uasyncio.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "uasyncd/service/job_error.hpp"
#include "uasyncd/service/job_service.hpp"
#include "uasyncd/service/schedule_definition.hpp"
#include "uasyncd/store/job_backend.hpp"

namespace uasyncd::server {

inline constexpr std::int64_t kMaxScheduleSleepMs = 60'000;

struct ScheduleOptions {
  // The wall clock, ms since the Unix epoch (nullptr: wall_ms()).
  std::function<std::int64_t()> now_ms;
  bool allow_exec = false;  // a schedule whose spec has exec steps is refused without it
};

// A schedule as the API shows it: its definition, and for the HTTP thread to complete, the id
// of its last run (whose state is read from the store when the run is no longer live).
struct ScheduleView {
  nlohmann::json record;
  std::uint64_t last_run_id = 0;
  std::optional<JobState> last_run_state;  // set when the run is live
};

class PeriodicSchedules {
 public:
  PeriodicSchedules(ScheduleOptions options, JobService& jobs, JobBackend& backend);
  ~PeriodicSchedules();
  PeriodicSchedules(const PeriodicSchedules&) = delete;
  PeriodicSchedules& operator=(const PeriodicSchedules&) = delete;

  // Start-up: the stored schedules come back; fires missed while no daemon ran follow each
  // one's catch_up policy. Rows that cannot be read are logged and left in the store.
  void restore();

  // A new schedule (exists: one of that name is there; invalid: too many schedules; forbidden:
  // exec steps without --allow-exec). Its first fire is its first time after now.
  Result<ScheduleView> add(ScheduleDefinition definition);
  Result<ScheduleView> get(const std::string& name) const;
  // Every schedule, by name.
  std::vector<ScheduleView> list() const;
  // Deletes the schedule (its runs stay); the view is of it as it was.
  Result<ScheduleView> remove(const std::string& name);
  // Pausing stops its fires; resuming applies its catch_up policy to the fires missed meanwhile.
  Result<ScheduleView> set_paused(const std::string& name, bool paused);
  // A run now, outside its times (paused or not; whatever its overlap policy says): its record.
  Result<nlohmann::json> trigger(const std::string& name);
  std::size_t size() const { return entries_.size(); }
  // Shutdown: no schedule fires from now on (nothing new starts while running tasks drain).
  // Reads still answer; what is stored stays as it is, for the next daemon.
  void stop_firing();
  // The ticket of the latest write of a schedule (a caller that answers "done" waits for it).
  WriteTicket last_write() const { return last_write_; }

 private:
  struct Entry {
    ScheduleDefinition definition;
    std::int64_t fired_ms = 0;  // stored: the latest occurrence fired or skipped
    std::int64_t last_ms = 0;   // the latest occurrence handled (>= fired_ms; queue: owed ones)
    std::optional<std::int64_t> owed_ms;  // overlap "queue": the occurrence that waits
    std::uint64_t generation = 0;         // tells this entry from a later one of the same name
    std::uint64_t watch = 0;              // the finish watch of the run an owed fire waits for
    std::uint64_t watched_run = 0;        // that run's id
    uasyncio::AnyTask sleeper;
  };

  std::int64_t now() const;
  Entry* find(const std::string& name, std::uint64_t generation);
  ScheduleView view(const Entry& e) const;
  void arm(Entry& e);
  // Stops the sleeper (arm starts another).
  void disarm(Entry& e);
  // Drops an owed fire and its finish watch (pause, delete).
  void forget_owed(Entry& e);
  static uasyncio::Coro<void> sleep_and_fire(PeriodicSchedules* self, std::string name,
                                             std::uint64_t generation);
  // The occurrences up to now since last_ms: the latest fires (the others are counted skipped,
  // as late or missed), as the overlap policy says.
  void occur(Entry& e, std::int64_t occurrence_ms, std::uint64_t also_missed);
  // Fires missed while paused or down, by the catch_up policy.
  void catch_up(Entry& e);
  // Makes a run; `occurrence_ms` (0: a trigger) becomes the stored fired_ms with it.
  Result<Submitted> run(Entry& e, std::int64_t occurrence_ms);
  void owe(Entry& e, std::int64_t occurrence_ms);
  void fire_owed(const std::string& name, std::uint64_t generation);
  static uasyncio::Coro<void> fire_owed_soon(PeriodicSchedules* self, std::string name,
                                             std::uint64_t generation);
  void save(const Entry& e);
  bool last_run_live(const Entry& e) const;

  ScheduleOptions options_;
  JobService& jobs_;
  JobBackend& backend_;
  std::map<std::string, Entry> entries_;
  std::uint64_t generations_ = 0;
  std::vector<uasyncio::AnyTask> owed_fires_;
  WriteTicket last_write_ = 0;
  bool stopped_ = false;
};

}  // namespace uasyncd::server
