#include "uasyncd/service/periodic_schedules.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "uasyncd/job/job_id.hpp"
#include "uasyncd/schedule/missed_fires.hpp"

namespace uasyncd::server {
namespace {

using nlohmann::json;
namespace ua = uasyncio;

schedule::Instant schedule_instant(std::int64_t ms) {
  return schedule::Instant(std::chrono::milliseconds(ms));
}

std::int64_t ms_of_instant(schedule::Instant t) {
  return t.time_since_epoch().count();
}

json seconds_json(std::int64_t ms) {
  return static_cast<double>(ms) / 1000.0;
}

JobError no_schedule(const std::string& name) {
  return {JobErrorCode::not_found, "no schedule named " + name};
}

}  // namespace

PeriodicSchedules::PeriodicSchedules(ScheduleOptions options, JobService& jobs, JobBackend& backend)
    : options_(std::move(options)), jobs_(jobs), backend_(backend) {}

PeriodicSchedules::~PeriodicSchedules() {
  for (auto& [name, e] : entries_) {
    disarm(e);
    forget_owed(e);
  }
  for (ua::AnyTask& t : owed_fires_) {
    if (t && !t.done()) t.cancel();
  }
}

std::int64_t PeriodicSchedules::now() const {
  return options_.now_ms ? options_.now_ms() : wall_ms();
}

PeriodicSchedules::Entry* PeriodicSchedules::find(const std::string& name,
                                                  std::uint64_t generation) {
  auto it = entries_.find(name);
  if (it == entries_.end() || it->second.generation != generation) return nullptr;
  return &it->second;
}

void PeriodicSchedules::restore() {
  std::size_t restored = 0;
  for (const SettingRow& row : backend_.load_settings(SettingKind::schedule)) {
    ParsedSchedule parsed = schedule_of_row(row);
    if (!parsed) {
      // A name that is not a schedule's is not logged: a file on disk is input too.
      spdlog::error("schedule {} cannot be read back, left in the store: {}",
                    schedule_name_ok(row.name) ? row.name : "(a bad name)", parsed.message);
      continue;
    }
    Entry& e = entries_[row.name];
    e.definition = std::move(*parsed.definition);
    e.fired_ms = row.fired_ms;
    e.last_ms = row.fired_ms;
    e.generation = ++generations_;
    ++restored;
    if (!e.definition.paused) {
      catch_up(e);
      arm(e);
    }
  }
  if (restored > 0) spdlog::info("restored {} schedules", restored);
}

void PeriodicSchedules::catch_up(Entry& e) {
  const schedule::MissedFires missed = schedule::missed_fires(
      e.definition.when, schedule_instant(e.last_ms), schedule_instant(now()));
  if (missed.count == 0 || !missed.latest) return;
  const std::int64_t latest = ms_of_instant(*missed.latest);
  if (e.definition.catch_up == CatchUp::one) {
    spdlog::info("schedule {}: {}{} fires missed, one run now (catch_up one)", e.definition.name,
                 missed.count, missed.capped ? "+" : "");
    occur(e, latest, missed.count - 1);
  } else {
    spdlog::info("schedule {}: {}{} fires missed, none run (catch_up none)", e.definition.name,
                 missed.count, missed.capped ? "+" : "");
    e.last_ms = latest;
    e.fired_ms = std::max(e.fired_ms, latest);
    e.definition.skipped += missed.count;
    save(e);
  }
}

void PeriodicSchedules::stop_firing() {
  stopped_ = true;
  for (auto& [name, e] : entries_) {
    disarm(e);
    forget_owed(e);
  }
}

void PeriodicSchedules::arm(Entry& e) {
  disarm(e);
  if (stopped_) return;
  e.sleeper = ua::create_task(sleep_and_fire(this, e.definition.name, e.generation));
}

void PeriodicSchedules::disarm(Entry& e) {
  if (e.sleeper && !e.sleeper.done()) e.sleeper.cancel();
  e.sleeper = ua::AnyTask();
}

void PeriodicSchedules::forget_owed(Entry& e) {
  if (e.watch != 0) jobs_.cancel_watch(e.watched_run, e.watch);
  e.watch = 0;
  e.owed_ms.reset();
}

ua::Coro<void> PeriodicSchedules::sleep_and_fire(PeriodicSchedules* self, std::string name,
                                                 std::uint64_t generation) {
  for (;;) {
    Entry* e = self->find(name, generation);
    if (e == nullptr) co_return;
    const std::optional<schedule::Instant> next =
        schedule::next_fire(e->definition.when, schedule_instant(e->last_ms));
    if (!next) co_return;  // it never fires again (past the year 9999)
    const std::int64_t wait = ms_of_instant(*next) - self->now();
    if (wait > 0) {
      co_await ua::sleep_ms(std::min(wait, kMaxScheduleSleepMs));
      continue;
    }
    // Late by more than a period (a blocked loop, a wall clock set forward): one run for the
    // latest occurrence, the others counted as skipped, never a burst of runs.
    const schedule::MissedFires missed = schedule::missed_fires(
        e->definition.when, schedule_instant(e->last_ms), schedule_instant(self->now()));
    if (missed.count == 0 || !missed.latest) continue;
    self->occur(*e, ms_of_instant(*missed.latest), missed.count - 1);
  }
}

bool PeriodicSchedules::last_run_live(const Entry& e) const {
  if (e.definition.last_run_id == 0) return false;
  const std::optional<JobState> s = jobs_.live_state(e.definition.last_run_id);
  return s && !is_final(*s);
}

void PeriodicSchedules::occur(Entry& e, std::int64_t occurrence_ms, std::uint64_t also_missed) {
  e.last_ms = occurrence_ms;
  e.definition.skipped += also_missed;
  if (last_run_live(e)) {
    switch (e.definition.overlap) {
      case Overlap::skip:
        spdlog::debug("schedule {}: skipped, its last run is still going", e.definition.name);
        ++e.definition.skipped;
        e.fired_ms = occurrence_ms;
        save(e);
        return;
      case Overlap::queue:
        owe(e, occurrence_ms);
        return;
      case Overlap::allow:
        break;
    }
  }
  run(e, occurrence_ms);
}

void PeriodicSchedules::owe(Entry& e, std::int64_t occurrence_ms) {
  if (e.owed_ms) ++e.definition.skipped;  // one fire waits at most: the older one is dropped
  e.owed_ms = occurrence_ms;
  if (e.watch != 0) return;
  const std::string name = e.definition.name;
  const std::uint64_t generation = e.generation;
  // Called on the loop thread from inside the job service's finish: the run is made on the
  // next turn, not from within it.
  auto on_finish = [this, name, generation](const JobBody&) {
    if (Entry* owner = find(name, generation)) owner->watch = 0;
    owed_fires_.push_back(ua::create_task(fire_owed_soon(this, name, generation)));
  };
  Result<FinishWatch> w = jobs_.watch_finish({e.definition.last_run_id, std::nullopt}, on_finish);
  if (!w || w->finished) {
    owed_fires_.push_back(ua::create_task(fire_owed_soon(this, name, generation)));
    return;
  }
  e.watch = w->watch;
  e.watched_run = e.definition.last_run_id;
}

ua::Coro<void> PeriodicSchedules::fire_owed_soon(PeriodicSchedules* self, std::string name,
                                                 std::uint64_t generation) {
  co_await ua::sleep_ms(0);
  self->fire_owed(name, generation);
  std::erase_if(self->owed_fires_, [](const ua::AnyTask& t) { return !t || t.done(); });
}

void PeriodicSchedules::fire_owed(const std::string& name, std::uint64_t generation) {
  Entry* e = find(name, generation);
  if (e == nullptr || !e->owed_ms || e->definition.paused || stopped_) return;
  if (last_run_live(*e)) {  // a trigger made another run meanwhile: wait for that one
    const std::int64_t owed = *e->owed_ms;
    e->owed_ms.reset();
    owe(*e, owed);
    return;
  }
  const std::int64_t owed = *e->owed_ms;
  e->owed_ms.reset();
  run(*e, owed);
}

Result<Submitted> PeriodicSchedules::run(Entry& e, std::int64_t occurrence_ms) {
  json spec_json = e.definition.spec;
  spec_json["schedule"] = e.definition.name;
  ParsedSpec parsed = parse_job_spec(spec_json);
  if (!parsed) {  // checked when it was made; a spec that stopped parsing is a bug
    spdlog::error("schedule {}: its spec no longer parses: {}", e.definition.name,
                  parsed.error.message);
    return JobError{JobErrorCode::invalid_spec, parsed.error.message};
  }
  const std::int64_t fired = occurrence_ms != 0 ? std::max(e.fired_ms, occurrence_ms) : e.fired_ms;
  ScheduleDefinition& d = e.definition;
  const std::uint64_t previous_run = d.last_run_id;
  const std::uint64_t previous_runs = d.runs;
  const auto row = [&](std::uint64_t id) {
    d.last_run_id = id;
    ++d.runs;
    SettingRow r = schedule_row(d, fired);
    r.occurrence = occurrence_ms != 0;
    return r;
  };
  Result<Submitted> r = jobs_.submit_fired(std::move(*parsed.spec), std::move(spec_json), row);
  if (r) last_write_ = r->ticket;
  if (!r) {
    d.last_run_id = previous_run;
    d.runs = previous_runs;
    ++d.skipped;
    spdlog::warn("schedule {}: no run: {}", d.name, r.error().message);
    e.fired_ms = fired;
    save(e);
    return r;
  }
  e.fired_ms = fired;
  spdlog::debug("schedule {}: run {}", d.name, job_id_text(r->id));
  return r;
}

void PeriodicSchedules::save(const Entry& e) {
  last_write_ = backend_.put_setting(schedule_row(e.definition, e.fired_ms));
}

ScheduleView PeriodicSchedules::view(const Entry& e) const {
  const ScheduleDefinition& d = e.definition;
  json r{{"name", d.name},
         {"spec", d.spec},
         {"overlap", overlap_name(d.overlap)},
         {"catch_up", catch_up_name(d.catch_up)},
         {"paused", d.paused},
         {"created", seconds_json(d.created_ms)},
         {"runs", d.runs},
         {"skipped", d.skipped}};
  if (d.every) {
    r["every"] = *d.every;
  } else {
    r["cron"] = d.cron;
    r["timezone"] = d.timezone;
  }
  json next = json::array();
  if (!d.paused) {
    // After the latest occurrence handled, or now if that is earlier: never a time gone by.
    const std::int64_t after = std::max(e.last_ms, now());
    for (schedule::Instant t :
         schedule::next_fires(d.when, schedule_instant(after), kShownNextFires))
      next.push_back(seconds_json(ms_of_instant(t)));
  }
  r["next_fires"] = std::move(next);
  r["last_fire"] = e.fired_ms > d.created_ms ? seconds_json(e.fired_ms) : json();
  r["waiting_fire"] = e.owed_ms ? seconds_json(*e.owed_ms) : json();
  ScheduleView v;
  v.last_run_id = d.last_run_id;
  if (d.last_run_id != 0) {
    v.last_run_state = jobs_.live_state(d.last_run_id);
    r["last_run"] = json{{"id", job_id_text(d.last_run_id)}};
    if (v.last_run_state) r["last_run"]["state"] = state_name(*v.last_run_state);
  } else {
    r["last_run"] = nullptr;
  }
  v.record = std::move(r);
  return v;
}

Result<ScheduleView> PeriodicSchedules::add(ScheduleDefinition definition) {
  if (entries_.count(definition.name) != 0) {
    return JobError{JobErrorCode::exists,
                    "a schedule named " + definition.name + " exists already (delete it first)"};
  }
  if (entries_.size() >= kMaxSchedules) {
    return JobError{JobErrorCode::invalid, "at most 10000 schedules"};
  }
  ParsedSpec spec = parse_job_spec(definition.spec);
  if (spec && spec.spec->uses_exec && !options_.allow_exec) {
    return JobError{JobErrorCode::forbidden, "exec steps need the daemon to run with --allow-exec"};
  }
  const std::string name = definition.name;
  Entry& e = entries_[name];
  e.definition = std::move(definition);
  // Only times after its creation fire.
  e.fired_ms = e.definition.created_ms;
  e.last_ms = e.definition.created_ms;
  e.generation = ++generations_;
  save(e);
  if (!e.definition.paused) arm(e);
  spdlog::info("schedule {} added", name);
  return view(e);
}

Result<ScheduleView> PeriodicSchedules::get(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) return no_schedule(name);
  return view(it->second);
}

std::vector<ScheduleView> PeriodicSchedules::list() const {
  std::vector<ScheduleView> out;
  out.reserve(entries_.size());
  for (const auto& [name, e] : entries_)
    out.push_back(view(e));
  return out;
}

Result<ScheduleView> PeriodicSchedules::remove(const std::string& name) {
  auto it = entries_.find(name);
  if (it == entries_.end()) return no_schedule(name);
  ScheduleView gone = view(it->second);
  disarm(it->second);
  forget_owed(it->second);
  SettingRow row;
  row.kind = SettingKind::schedule;
  row.name = name;
  row.erase = true;
  last_write_ = backend_.put_setting(row);
  entries_.erase(it);
  spdlog::info("schedule {} deleted", name);
  return gone;
}

Result<ScheduleView> PeriodicSchedules::set_paused(const std::string& name, bool paused) {
  auto it = entries_.find(name);
  if (it == entries_.end()) return no_schedule(name);
  Entry& e = it->second;
  if (e.definition.paused != paused) {
    e.definition.paused = paused;
    if (paused) {
      disarm(e);
      forget_owed(e);
      save(e);
    } else {
      save(e);
      catch_up(e);
      arm(e);
    }
  }
  return view(e);
}

Result<json> PeriodicSchedules::trigger(const std::string& name) {
  auto it = entries_.find(name);
  if (it == entries_.end()) return no_schedule(name);
  Result<Submitted> r = run(it->second, 0);
  if (!r) return r.error();
  return std::move(r->job);
}

}  // namespace uasyncd::server
