// JobBridge's calls for periodic schedules: each runs on the loop (PeriodicSchedules lives
// there), then, on the caller's thread, waits for its write's commit and reads the state of a
// last run that is no longer live from the store.
#include <spdlog/spdlog.h>

#include <utility>

#include "uasyncd/bridge/job_bridge.hpp"
#include "uasyncd/job/job_json.hpp"

namespace uasyncd::server {
namespace {

using nlohmann::json;
using ViewAndTicket = std::pair<ScheduleView, WriteTicket>;

}  // namespace

Result<Done> JobBridge::committed_or_unavailable(WriteTicket ticket) {
  if (backend_.wait_committed(ticket, options_.loop_reply_timeout)) return Done{};
  return JobError{JobErrorCode::unavailable, "the change could not be stored in time"};
}

json JobBridge::schedule_record(ScheduleView view) {
  json& r = view.record;
  if (view.last_run_id != 0 && !view.last_run_state) {
    try {
      const std::optional<JobRow> row = backend_.get(view.last_run_id);
      // A run deleted or removed by retention since: its id stays, its state is unknown.
      r["last_run"]["state"] = row ? json(state_name(row->state)) : json();
    } catch (const std::exception& e) {
      spdlog::warn("schedule {}: its last run cannot be read: {}", r.value("name", ""), e.what());
      r["last_run"]["state"] = nullptr;
    }
  }
  return std::move(r);
}

Result<json> JobBridge::add_schedule(ScheduleDefinition definition) {
  auto arg = std::make_shared<ScheduleDefinition>(std::move(definition));
  Result<ViewAndTicket> r =
      on_loop<ViewAndTicket>([this, arg](JobService&) -> Result<ViewAndTicket> {
        Result<ScheduleView> v = schedules_->add(std::move(*arg));
        if (!v) return v.error();
        return ViewAndTicket{std::move(v.value()), schedules_->last_write()};
      });
  if (!r) return r.error();
  if (Result<Done> c = committed_or_unavailable(r->second); !c) return c.error();
  return schedule_record(std::move(r->first));
}

Result<json> JobBridge::get_schedule(const std::string& name) {
  Result<ViewAndTicket> r =
      on_loop<ViewAndTicket>([this, name](JobService&) -> Result<ViewAndTicket> {
        Result<ScheduleView> v = schedules_->get(name);
        if (!v) return v.error();
        return ViewAndTicket{std::move(v.value()), 0};
      });
  if (!r) return r.error();
  return schedule_record(std::move(r->first));
}

Result<json> JobBridge::list_schedules() {
  Result<std::vector<ScheduleView>> r = on_loop<std::vector<ScheduleView>>(
      [this](JobService&) -> Result<std::vector<ScheduleView>> { return schedules_->list(); });
  if (!r) return r.error();
  json out = json::array();
  for (ScheduleView& v : r.value())
    out.push_back(schedule_record(std::move(v)));
  return json{{"schedules", std::move(out)}};
}

Result<json> JobBridge::remove_schedule(const std::string& name) {
  Result<ViewAndTicket> r =
      on_loop<ViewAndTicket>([this, name](JobService&) -> Result<ViewAndTicket> {
        Result<ScheduleView> v = schedules_->remove(name);
        if (!v) return v.error();
        return ViewAndTicket{std::move(v.value()), schedules_->last_write()};
      });
  if (!r) return r.error();
  if (Result<Done> c = committed_or_unavailable(r->second); !c) return c.error();
  return schedule_record(std::move(r->first));
}

Result<json> JobBridge::pause_schedule(const std::string& name, bool paused) {
  Result<ViewAndTicket> r =
      on_loop<ViewAndTicket>([this, name, paused](JobService&) -> Result<ViewAndTicket> {
        Result<ScheduleView> v = schedules_->set_paused(name, paused);
        if (!v) return v.error();
        return ViewAndTicket{std::move(v.value()), schedules_->last_write()};
      });
  if (!r) return r.error();
  if (Result<Done> c = committed_or_unavailable(r->second); !c) return c.error();
  return schedule_record(std::move(r->first));
}

Result<json> JobBridge::trigger_schedule(const std::string& name) {
  Result<Submitted> r = on_loop<Submitted>([this, name](JobService&) -> Result<Submitted> {
    Result<json> job = schedules_->trigger(name);
    if (!job) return job.error();
    const std::string id = job->value("id", "");
    const std::optional<JobRef> ref = parse_job_ref(id);
    return Submitted{ref ? ref->id : 0, schedules_->last_write(), std::move(job.value())};
  });
  if (!r) return r.error();
  if (Result<Done> c = committed_or_unavailable(r->ticket); !c) return c.error();
  submitted_.fetch_add(1, std::memory_order_relaxed);
  return std::move(r->job);
}

}  // namespace uasyncd::server
