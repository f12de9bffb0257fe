#include "uasyncd/bridge/job_bridge.hpp"

#include <spdlog/spdlog.h>
#include <uasyncio/uasyncio.hpp>

#include <condition_variable>
#include <limits>
#include <mutex>
#include <tuple>
#include <utility>

#include "uasyncd/job/job_id.hpp"
#include "uasyncd/job/job_json.hpp"
#include "uasyncd/store/store_error.hpp"

namespace uasyncd::server {
namespace {

namespace ua = uasyncio;
using nlohmann::json;

// Gives cancelled jobs up to `grace_ms` (loop time) to finish, then stops the loop.
ua::Coro<void> drain_then_stop(JobService* service, LoopThread* loop, std::int64_t grace_ms) {
  // Saturated: the virtual clock may stand near its end (a spec slept 1e308 s).
  const std::int64_t now = ua::ticks_ms();
  const std::int64_t deadline = grace_ms > std::numeric_limits<std::int64_t>::max() - now
                                    ? std::numeric_limits<std::int64_t>::max()
                                    : now + grace_ms;
  while (service->unfinished() > 0 && ua::ticks_ms() < deadline)
    co_await ua::sleep_ms(10);
  if (service->unfinished() > 0) {
    spdlog::warn("shutdown: {} tasks still running after the grace period", service->unfinished());
  }
  loop->stop_from_loop();
}

JobError loop_unavailable() {
  return {JobErrorCode::unavailable,
          "the task loop did not answer in time; the request was not carried out"};
}

// A finished job's record, serialized once for the cache.
JsonDoc serialized(const json& body) {
  return {json(), std::make_shared<const std::string>(json_text(body))};
}

bool is_final_doc(const JsonDoc& doc) {
  if (doc.text) return true;  // only finished jobs are serialized
  const std::optional<JobState> s = parse_state(doc.json.value("state", ""));
  return s && is_final(*s);
}

JobError loop_stopping() {
  return {JobErrorCode::unavailable, "the task loop is stopping"};
}

}  // namespace

bool JobWait::answer_once(Result<Waited> r) {
  if (answered_.exchange(true)) return false;
  Answer answer = std::move(answer_);
  answer_ = nullptr;
  answer(std::move(r));
  return true;
}

JobBridge::JobBridge(BridgeOptions options, JobBackend& backend, FinishedJobCache& cache)
    : options_(std::move(options)), backend_(backend), cache_(cache), stored_(backend) {
  options_.service.publish = [this](const json& event) {
    events_.publish(event);
    if (options_.forward_event && options_.remote_watchers && options_.remote_watchers()) {
      options_.forward_event(event.dump());
    }
  };
  options_.service.events_wanted = [this] {
    // Asked at every transition: the moment to copy the running count for the cluster's
    // heartbeat, which may not touch the service.
    if (service_) running_.store(service_->running(), std::memory_order_relaxed);
    return events_.active() || (options_.remote_watchers && options_.remote_watchers());
  };
  options_.service.counted = [this](JobState s) {
    finished_total_[static_cast<std::size_t>(s)].fetch_add(1, std::memory_order_relaxed);
  };
  if (options_.remote_watchers) {
    remote_waits_ =
        std::make_unique<RemoteWaits<JobWait>>([this](JobWait& w) { return settle_remote(w); });
  }
}

JobBridge::~JobBridge() {
  stop(std::chrono::milliseconds(0));
}

void JobBridge::start() {
  started_at_ = std::chrono::steady_clock::now();
  loop_.start(
      options_.virtual_clock,
      [this] {
        if (options_.exec_supervisor) {
          exec_ = std::make_unique<exec::SupervisorClient>(*options_.exec_supervisor);
          // Started now, not at the first exec step, which would wait for it.
          if (options_.service.allow_exec) {
            try {
              exec_->start();
            } catch (const exec::SupervisorError& e) {
              spdlog::error("exec supervisor: {} (exec steps will try again)", e.what());
            }
          }
        }
        service_ = std::make_unique<JobService>(options_.service, backend_);
        service_->restore();
        ScheduleOptions schedule_options;
        schedule_options.allow_exec = options_.service.allow_exec;
        if (options_.virtual_clock) {
          // Fire times are wall-clock instants; on a virtual clock the wall clock moves with it.
          const std::int64_t wall_at_start = wall_ms();
          const std::int64_t loop_at_start = ua::ticks_ms();
          schedule_options.now_ms = [wall_at_start, loop_at_start] {
            return wall_at_start + (ua::ticks_ms() - loop_at_start);
          };
        }
        schedules_ =
            std::make_unique<PeriodicSchedules>(std::move(schedule_options), *service_, backend_);
        schedules_->restore();
        ua::get_event_loop().set_exception_handler(
            [](ua::Loop&, const ua::ExceptionContext& c) { spdlog::debug("loop: {}", c.message); });
      },
      [this] {
        schedules_.reset();
        service_->release_all();
        ua::new_event_loop();
        service_.reset();
        exec_.reset();  // waits until the supervisor has killed and reaped every exec process
      });
}

void JobBridge::stop(std::chrono::milliseconds grace) {
  if (stopping_.exchange(true)) return;
  events_.close_all();
  if (remote_waits_) remote_waits_->stop();
  loop_.post([this, grace] {
    if (schedules_) schedules_->stop_firing();
    service_->cancel_all();
    ua::create_task(drain_then_stop(service_.get(), &loop_, grace.count()));
  });
  loop_.join();
}

template <class T>
Result<T> JobBridge::on_loop(std::function<Result<T>(JobService&)> fn) {
  try {
    std::optional<Result<T>> r = loop_.call<Result<T>>(
        [this, fn = std::move(fn)] { return fn(*service_); }, options_.loop_reply_timeout);
    if (!r) return loop_unavailable();
    return std::move(*r);
  } catch (const StoreError& e) {
    // A store that must answer first (a shared one reserving ids) did not: nothing was done.
    return JobError{JobErrorCode::unavailable, e.what()};
  } catch (const std::exception& e) {
    spdlog::error("a request failed on the loop thread: {}", e.what());
    return JobError{JobErrorCode::internal, std::string("internal error: ") + e.what()};
  }
}

std::optional<Result<Submission>> JobBridge::replay(std::uint64_t id, const json& spec_json) {
  Result<JsonDoc> doc = get({id, std::nullopt});
  if (doc.is(JobErrorCode::not_found)) return std::nullopt;  // removed since: the key is free
  if (!doc) return doc.error();
  json record = doc->text ? json::parse(*doc->text) : std::move(doc->json);
  if (record["spec"] != spec_json) {
    // Appended, not "literal" + string: g++ 12 at -O3 warns falsely on that (PR 105329).
    std::string message = "this Idempotency-Key was used for task ";
    message += job_id_text(id);
    message += " with a different spec";
    return Result<Submission>(JobError{JobErrorCode::key_reused, std::move(message)});
  }
  return Result<Submission>(Submission{std::move(record), true});
}

Result<std::optional<std::uint64_t>> JobBridge::claim_key(const std::string& key) {
  std::lock_guard lock(keys_mu_);
  auto it = keys_in_flight_.find(key);
  if (it != keys_in_flight_.end() && it->second == 0) {
    return JobError{JobErrorCode::key_in_use,
                    "a submit with this Idempotency-Key is in progress; retry later"};
  }
  // Held over the store lookup: no other submit with this key can start meanwhile.
  std::optional<std::uint64_t> id;
  if (it != keys_in_flight_.end()) {
    id = it->second;
  } else {
    try {
      id = backend_.find_by_key(key);
    } catch (const std::exception& e) {
      return JobError{JobErrorCode::unavailable, e.what()};
    }
  }
  if (!id) keys_in_flight_[key] = 0;
  return id;
}

void JobBridge::settle_key(const std::string& key, std::uint64_t id) {
  if (key.empty()) return;
  std::lock_guard lock(keys_mu_);
  if (id == 0) {
    keys_in_flight_.erase(key);
  } else {
    keys_in_flight_[key] = id;
  }
}

Result<Submission> JobBridge::submit(JobSpec spec, json spec_json, std::string key) {
  // An earlier job with the key is replayed; one removed since frees the key, and the claim is
  // tried again (a second removal in between is too unlikely to loop on).
  for (int tries = 0; !key.empty(); ++tries) {
    Result<std::optional<std::uint64_t>> claim = claim_key(key);
    if (!claim) return claim.error();
    if (!claim.value()) break;
    if (std::optional<Result<Submission>> earlier = replay(*claim.value(), spec_json))
      return *earlier;
    if (tries > 0) {
      return JobError{JobErrorCode::key_in_use,
                      "a submit with this Idempotency-Key is in progress; retry later"};
    }
  }
  // Whatever happens below, the key is settled: forgotten once committed or never used, kept
  // with its job's id while the commit is outstanding.
  // The spec moves into a shared holder: std::function needs a copyable callable.
  auto args = std::make_shared<std::tuple<JobSpec, json, std::string>>(std::move(spec),
                                                                       std::move(spec_json), key);
  Result<Submitted> r = on_loop<Submitted>([args](JobService& s) {
    return s.submit(std::move(std::get<0>(*args)), std::move(std::get<1>(*args)),
                    std::move(std::get<2>(*args)));
  });
  if (!r) {
    settle_key(key, 0);  // the loop did not run it: nothing was made
    return r.error();
  }
  // Accepted promises the job survives a crash: answer only once its insert is committed.
  if (!backend_.wait_committed(r->ticket, options_.loop_reply_timeout)) {
    settle_key(key, r->id);  // a retry finds this job through the key
    return JobError{JobErrorCode::unavailable, "the task could not be stored in time"};
  }
  settle_key(key, 0);
  submitted_.fetch_add(1, std::memory_order_relaxed);
  const std::optional<JobState> state = parse_state(r->job.value("state", ""));
  if (options_.instance_id && state && !is_final(*state)) {
    // Cluster mode: as a GET would show it (null: released, waiting for a claim).
    r->job["instance"] = r->held ? json(options_.instance_id()) : json(nullptr);
  }
  return Submission{std::move(r->job), false};
}

std::string batch_item_key(const std::string& key, std::size_t index) {
  if (index == 0) return key;
  std::string out = key;
  out += ' ';
  out += std::to_string(index);
  return out;
}

std::optional<Result<BatchSubmission>> JobBridge::replay_batch(
    std::uint64_t first, const std::string& key, const std::vector<SubmitItem>& items) {
  const auto differs = [&] {
    std::string message = "this Idempotency-Key was used for a batch starting with task ";
    message += job_id_text(first);
    message += " with different specs (or some of its tasks were deleted since)";
    return Result<BatchSubmission>(JobError{JobErrorCode::key_reused, std::move(message)});
  };
  BatchSubmission out;
  out.replayed = true;
  out.ids.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    std::optional<std::uint64_t> id = first;
    if (i > 0) {
      try {
        id = backend_.find_by_key(batch_item_key(key, i));
      } catch (const std::exception& e) {
        return Result<BatchSubmission>(JobError{JobErrorCode::unavailable, e.what()});
      }
      if (!id) return differs();
    }
    Result<JsonDoc> doc = get({*id, std::nullopt});
    if (doc.is(JobErrorCode::not_found)) {
      if (i == 0) return std::nullopt;  // removed since: the key is free
      return differs();
    }
    if (!doc) return Result<BatchSubmission>(doc.error());
    const json record = doc->text ? json::parse(*doc->text) : std::move(doc->json);
    if (record["spec"] != items[i].spec_json) return differs();
    out.ids.push_back(*id);
  }
  try {
    // The earlier batch was longer: not the same request.
    if (backend_.find_by_key(batch_item_key(key, items.size()))) return differs();
  } catch (const std::exception& e) {
    return Result<BatchSubmission>(JobError{JobErrorCode::unavailable, e.what()});
  }
  return Result<BatchSubmission>(std::move(out));
}

Result<BatchSubmission> JobBridge::submit_all(std::vector<SubmitItem> items, std::string key) {
  for (int tries = 0; !key.empty(); ++tries) {
    Result<std::optional<std::uint64_t>> claim = claim_key(key);
    if (!claim) return claim.error();
    if (!claim.value()) break;
    if (std::optional<Result<BatchSubmission>> earlier = replay_batch(*claim.value(), key, items)) {
      return *earlier;
    }
    if (tries > 0) {
      return JobError{JobErrorCode::key_in_use,
                      "a submit with this Idempotency-Key is in progress; retry later"};
    }
  }
  if (!key.empty()) {
    for (std::size_t i = 0; i < items.size(); ++i)
      items[i].idempotency_key = batch_item_key(key, i);
  }
  auto args = std::make_shared<std::vector<SubmitItem>>(std::move(items));
  Result<SubmittedBatch> r =
      on_loop<SubmittedBatch>([args](JobService& s) { return s.submit_all(std::move(*args)); });
  if (!r) {
    settle_key(key, 0);
    return r.error();
  }
  // As for one task: accepted means stored. The batch is one write, so it is all stored or none.
  if (!backend_.wait_committed(r->ticket, options_.loop_reply_timeout)) {
    settle_key(key, r->ids.empty() ? 0 : r->ids.front());
    return JobError{JobErrorCode::unavailable, "the tasks could not be stored in time"};
  }
  settle_key(key, 0);
  submitted_.fetch_add(r->ids.size(), std::memory_order_relaxed);
  return BatchSubmission{std::move(r->ids), false};
}

Result<ListPage> JobBridge::list(const ListQuery& query) {
  try {
    return backend_.list(query);
  } catch (const std::exception& e) {
    return JobError{JobErrorCode::unavailable, e.what()};
  }
}

bool JobBridge::settle_remote(JobWait& wait) {
  if (wait.answered()) return true;
  try {
    std::optional<Result<JsonDoc>> stored = from_store(wait.ref(), false);
    if (!stored) {
      wait.answer_once(JobError{JobErrorCode::not_found, ref_text(wait.ref())});
    } else if (!*stored) {
      wait.answer_once(stored->error());
    } else if (is_final_doc(stored->value())) {
      wait.answer_once(Waited{std::move(stored->value()), true});
    } else {
      return false;
    }
  } catch (const StoreError&) {
    return false;  // the store is away: the next poll tries again
  }
  return true;
}

std::optional<Result<JsonDoc>> JobBridge::from_store(const JobRef& ref, bool finished_only) {
  const std::uint64_t generation = cache_.generation();
  std::optional<JobError> error;
  std::shared_ptr<Job> job = stored_.find(ref, error, finished_only);
  if (!job) {
    if (!error) return std::nullopt;
    return Result<JsonDoc>(*error);
  }
  if (!is_final(job->state()) || ref.step) {
    JsonDoc live{full_json(*job), nullptr};
    if (!is_final(job->state()) && options_.instance_id) {
      // Cluster mode: held by another instance (or by none, waiting for a claim).
      std::optional<JobRow> row = backend_.get(ref.id);
      live.json["instance"] = row && row->owner != 0 ? json(row->owner) : json(nullptr);
    }
    return Result<JsonDoc>(std::move(live));
  }
  JsonDoc doc = serialized(full_json(*job));
  cache_.put(ref.id, doc.text, generation);
  return Result<JsonDoc>(std::move(doc));
}

Result<JsonDoc> JobBridge::get(const JobRef& ref) {
  if (!ref.step) {
    if (FinishedJobCache::Body body = cache_.find(ref.id)) return JsonDoc{json(), body};
  }
  // A finished job is read from the store (and cached); a live one from the loop. A job the loop
  // has just let go of was committed first: the second read of the store finds it.
  if (std::optional<Result<JsonDoc>> stored = from_store(ref, true)) return std::move(*stored);
  Result<json> live = on_loop<json>([ref](JobService& s) { return s.get(ref); });
  if (live) {
    if (options_.instance_id && !ref.step) live.value()["instance"] = options_.instance_id();
    return JsonDoc{std::move(live.value()), nullptr};
  }
  if (!live.is(JobErrorCode::not_live)) return live.error();
  return std::move(*from_store(ref, false));
}

void JobBridge::start_wait(const std::shared_ptr<JobWait>& wait) {
  const JobRef& ref = wait->ref();
  // A finished job is answered from the cache or the store, on this thread.
  if (!ref.step) {
    if (FinishedJobCache::Body body = cache_.find(ref.id)) {
      wait->answer_once(Waited{{json(), body}, true});
      return;
    }
  }
  if (std::optional<Result<JsonDoc>> stored = from_store(ref, true)) {
    if (*stored) {
      wait->answer_once(Waited{std::move(stored->value()), true});
    } else {
      wait->answer_once(stored->error());
    }
    return;
  }
  if (!loop_.post([this, wait] { watch_on_loop(wait); })) wait->answer_once(loop_stopping());
}

void JobBridge::watch_on_loop(const std::shared_ptr<JobWait>& wait) {
  if (wait->answered()) return;  // its client left while this was queued
  const std::weak_ptr<JobWait> weak = wait;
  Result<FinishWatch> r = service_->watch_finish(wait->ref(), [weak](const JobBody& body) {
    if (std::shared_ptr<JobWait> w = weak.lock()) w->answer_once(Waited{{json(), body}, true});
  });
  if (r && r->finished) {
    wait->answer_once(Waited{{json(), r->finished}, true});
  } else if (r) {
    wait->watch = r->watch;
  } else if (!r.is(JobErrorCode::not_live)) {
    wait->answer_once(r.error());
  } else if (std::optional<Result<JsonDoc>> stored = from_store(wait->ref(), false)) {
    if (remote_waits_ && *stored && !is_final_doc(stored->value())) {
      // Live on another instance (cluster mode): its end comes from there.
      wait->remote = true;
      remote_waits_->add(wait->ref().id, wait);
      if (options_.watching) options_.watching();
      return;
    }
    // It finished and left RAM after the caller looked at the store: one row read, rarely.
    if (*stored) {
      wait->answer_once(Waited{std::move(stored->value()), true});
    } else {
      wait->answer_once(stored->error());
    }
  } else {
    wait->answer_once(JobError{JobErrorCode::not_found, ref_text(wait->ref())});
  }
}

void JobBridge::end_wait(const std::shared_ptr<JobWait>& wait, bool answer_now) {
  if (wait->answered()) return;
  if (wait->remote.load()) {
    // Not the loop's: answered with the row as the store has it now.
    if (!answer_now) {
      wait->forget();
    } else if (!settle_remote(*wait)) {
      if (std::optional<Result<JsonDoc>> stored = from_store(wait->ref(), false);
          stored && *stored) {
        wait->answer_once(Waited{std::move(stored->value()), false});
      }
    }
    return;
  }
  const bool posted = loop_.post([this, wait, answer_now] {
    if (wait->answered()) return;
    service_->cancel_watch(wait->ref().id, wait->watch);
    if (!answer_now) {
      wait->forget();
      return;
    }
    // Still watched, so still live and unfinished (its end would have answered it).
    Result<json> now = service_->get(wait->ref());
    if (now) {
      JsonDoc doc{std::move(now.value()), nullptr};
      const bool finished = is_final_doc(doc);
      wait->answer_once(Waited{std::move(doc), finished});
    } else {
      wait->answer_once(now.error());
    }
  });
  if (posted) return;
  if (answer_now) {
    wait->answer_once(loop_stopping());
  } else {
    wait->forget();
  }
}

Result<json> JobBridge::cancel(const JobRef& ref) {
  Result<json> r = on_loop<json>([ref](JobService& s) { return s.cancel(ref); });
  if (!r.is(JobErrorCode::not_live)) return r;
  if (ref.step) {
    // A step's cancel is a request to the task's owner (a whole task's is stored).
    const auto step = static_cast<std::int64_t>(*ref.step);
    if (std::optional<Result<json>> sent =
            through_owner(RemoteRequest::Kind::cancel_step, ref, step)) {
      return *sent;
    }
  } else if (options_.cancel_elsewhere) {
    try {
      if (options_.cancel_elsewhere(ref.id)) return stored_.get(ref);
    } catch (const StoreError& e) {
      return JobError{JobErrorCode::unavailable, e.what()};
    }
  }
  return stored_.cancel(ref);
}

Result<json> JobBridge::set_timeout(const JobRef& ref, double timeout_s) {
  Result<json> r =
      on_loop<json>([ref, timeout_s](JobService& s) { return s.set_timeout(ref, timeout_s); });
  if (!r.is(JobErrorCode::not_live)) return r;
  if (!ref.step) {  // a step's timeout is refused as on one daemon
    // Timeouts past ~31,700 years are the same as that one (the owner saturates it anyway).
    const auto ms = static_cast<std::int64_t>(std::min(timeout_s, 1e12) * 1000.0);
    if (std::optional<Result<json>> sent = through_owner(RemoteRequest::Kind::timeout, ref, ms)) {
      return *sent;
    }
  }
  return stored_.set_timeout(ref);
}

std::optional<Result<json>> JobBridge::through_owner(RemoteRequest::Kind kind, const JobRef& ref,
                                                     std::int64_t value) {
  if (!options_.ask_owner) return std::nullopt;
  try {
    std::optional<Result<Done>> sent = options_.ask_owner(kind, ref.id, value);
    if (!sent) return std::nullopt;
    if (!*sent) return Result<json>(sent->error());
    return stored_.get(ref);
  } catch (const StoreError& e) {
    return Result<json>(JobError{JobErrorCode::unavailable, e.what()});
  }
}

Result<json> JobBridge::remove(const JobRef& ref) {
  // A step ref is refused below (steps cannot be deleted); only a job is claimed.
  DeleteClaims claims(*this);
  if (!ref.step && !claims.claim(ref.id)) return no_such(ref);
  Result<Removal> r = on_loop<Removal>([ref](JobService& s) { return s.remove(ref); });
  if (r.is(JobErrorCode::not_live)) r = stored_.remove(ref);
  if (!r) return r.error();
  // Answered only once the delete is committed and the cached body dropped: no read that starts
  // after the answer can find the job; its event goes out then too.
  if (!backend_.wait_committed(r->ticket, options_.loop_reply_timeout)) {
    return JobError{JobErrorCode::unavailable, "the delete could not be stored in time"};
  }
  cache_.erase(ref.id);
  const RemovedJob gone[] = {{ref.id, r->state}};
  publish_removed(gone, "deleted");
  return json{{"id", job_id_text(ref.id)}, {"deleted", true}};
}

bool JobBridge::DeleteClaims::claim(std::uint64_t id) {
  {
    std::lock_guard lock(bridge_.deleting_mu_);
    if (!bridge_.deleting_.insert(id).second) return false;
  }
  ids_.push_back(id);
  return true;
}

JobBridge::DeleteClaims::~DeleteClaims() {
  std::lock_guard lock(bridge_.deleting_mu_);
  for (std::uint64_t id : ids_)
    bridge_.deleting_.erase(id);
}

void JobBridge::publish_removed(std::span<const RemovedJob> jobs, const char* reason) {
  if (!events_.active()) return;
  const double time = static_cast<double>(wall_ms()) / 1000.0;
  for (const RemovedJob& j : jobs) {
    events_.publish({{"type", "removed"},
                     {"id", job_id_text(j.id)},
                     {"reason", reason},
                     {"state", state_name(j.state)},
                     {"time", time}});
  }
}

Result<FinishedHistory::Snapshot> JobBridge::finished_history() {
  return on_loop<FinishedHistory::Snapshot>(
      [](JobService& s) -> Result<FinishedHistory::Snapshot> { return s.finished_history(); });
}

Result<json> JobBridge::output(const JobRef& ref) {
  Result<json> r = on_loop<json>([ref](JobService& s) { return s.output(ref); });
  return r.is(JobErrorCode::not_live) ? stored_.output(ref) : r;
}

Result<Done> JobBridge::follow_output(const JobRef& ref, std::shared_ptr<SseChannel> channel) {
  OutputFollower follower{
      [channel](const OutputChunk& c) {
        return channel->push(sse_frame("output", {{"step", c.step_id},
                                                  {"stream", c.is_stderr ? "stderr" : "stdout"},
                                                  {"data", c.data}}));
      },
      [channel](const OutputEnd& e) {
        channel->push(sse_frame("end", {{"id", e.job_id}, {"state", state_name(e.state)}}));
        channel->close();
      }};
  Result<Done> r =
      on_loop<Done>([ref, follower](JobService& s) { return s.follow_output(ref, follower); });
  return r.is(JobErrorCode::not_live) ? stored_.follow_output(ref, follower) : r;
}

void JobBridge::subscribe_events(std::shared_ptr<SseChannel> channel) {
  events_.subscribe(std::move(channel));
  if (options_.watching) options_.watching();
}

DaemonStats JobBridge::stats() const {
  DaemonStats s;
  s.counts = backend_.counts();
  for (std::uint64_t n : s.counts)
    s.retained += n;
  s.submitted_total = submitted_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < s.finished_total.size(); ++i)
    s.finished_total[i] = finished_total_[i].load(std::memory_order_relaxed);
  s.loop_lag_seconds = loop_.lag_seconds();
  s.store = backend_.stats();
  s.uptime_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at_).count();
  if (options_.lease_age) {
    s.lease_age_seconds = std::chrono::duration<double>(options_.lease_age()).count();
  }
  return s;
}

template Result<JobBridge::FollowRegistered> JobBridge::on_loop(
    std::function<Result<JobBridge::FollowRegistered>(JobService&)>);
template Result<JobBridge::DeleteOutcomes> JobBridge::on_loop(
    std::function<Result<JobBridge::DeleteOutcomes>(JobService&)>);
template Result<std::vector<BulkOutcome>> JobBridge::on_loop(
    std::function<Result<std::vector<BulkOutcome>>(JobService&)>);
template Result<std::pair<ScheduleView, WriteTicket>> JobBridge::on_loop(
    std::function<Result<std::pair<ScheduleView, WriteTicket>>(JobService&)>);
template Result<std::vector<ScheduleView>> JobBridge::on_loop(
    std::function<Result<std::vector<ScheduleView>>(JobService&)>);
template Result<std::pair<json, WriteTicket>> JobBridge::on_loop(
    std::function<Result<std::pair<json, WriteTicket>>(JobService&)>);
template Result<Submitted> JobBridge::on_loop(std::function<Result<Submitted>(JobService&)>);

}  // namespace uasyncd::server
