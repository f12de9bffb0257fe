#include "uasyncd/service/job_service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <utility>

#include "uasyncd/job/job_json.hpp"

namespace uasyncd::server {
namespace {

namespace ua = uasyncio;
using nlohmann::json;

// How long a finished job waits in RAM between looks at whether its final write is committed.
constexpr std::int64_t kReleasePollMs = 20;

std::int64_t ms_of(double seconds) {
  const double ms = std::floor(seconds * 1000.0);
  return ms >= 9.2e18 ? INT64_MAX : static_cast<std::int64_t>(ms);
}

}  // namespace

JobService::JobService(ServiceOptions options, JobBackend& backend)
    : options_(std::move(options)),
      backend_(backend),
      runner_(
          RunnerHooks{[this](Job& job) { runner_finished(job); },
                      [this](Job& job, std::size_t index) { step_changed(job, index); },
                      [this](Job& job, std::size_t index, bool is_stderr, std::string_view data) {
                        step_output(job, index, is_stderr, data);
                      }},
          options_.exec_kill_grace_ms, options_.allow_exec),
      queues_(options_.max_running) {
  // The flags apply from the start; restore() reads the stored settings and applies them again.
  for (const auto& [name, limit] : options_.queue_limits)
    queues_.configure(name, QueueConfig{limit, false});
}

JobService::~JobService() {
  release_all();
}

std::shared_ptr<Job> JobService::live(const JobRef& ref, std::optional<JobError>& error) {
  std::shared_ptr<Job> job = find_live(ref.id);
  if (!job) {
    error = JobError{JobErrorCode::not_live, ref_text(ref)};
    return nullptr;
  }
  error = find_error(job.get(), ref);
  return error ? nullptr : job;
}

std::optional<JobError> JobService::queue_refused(const JobSpec& spec) const {
  if (queues_.find(spec.queue) != nullptr || queues_.has_room()) return std::nullopt;
  return JobError{JobErrorCode::invalid,
                  "$.queue: this daemon has 1000 queues already; use one of them"};
}

Result<Submitted> JobService::submit(JobSpec spec, json spec_json, std::string idempotency_key) {
  if (spec.uses_exec && !options_.allow_exec) {
    return JobError{JobErrorCode::forbidden, "exec steps need the daemon to run with --allow-exec"};
  }
  if (std::optional<JobError> refused = queue_refused(spec)) return *refused;
  std::shared_ptr<Job> job =
      make_job(std::move(spec), std::move(spec_json), std::move(idempotency_key));
  Submitted out;
  out.id = job->id();
  out.ticket = backend_.insert(*job);
  admit(job, out.ticket);
  out.job = full_json(*job);
  out.held = live_.contains(out.id);
  return out;
}

Result<Submitted> JobService::submit_fired(
    JobSpec spec, json spec_json, const std::function<SettingRow(std::uint64_t id)>& schedule_row) {
  if (spec.uses_exec && !options_.allow_exec) {
    return JobError{JobErrorCode::forbidden, "exec steps need the daemon to run with --allow-exec"};
  }
  if (std::optional<JobError> refused = queue_refused(spec)) return *refused;
  std::shared_ptr<Job> job = make_job(std::move(spec), std::move(spec_json), {});
  Submitted out;
  out.id = job->id();
  out.ticket = backend_.insert_fired(*job, schedule_row(job->id()));
  out.job = full_json(*job);
  // A shared backend: the run waits unowned in the database (if this instance fired the
  // occurrence first) for whichever instance claims it.
  if (!backend_.shared()) admit(job, out.ticket);
  return out;
}

std::optional<JobState> JobService::live_state(std::uint64_t id) const {
  auto it = live_.find(id);
  if (it == live_.end()) return std::nullopt;
  return it->second->state();
}

Result<SubmittedBatch> JobService::submit_all(std::vector<SubmitItem> items) {
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (items[i].spec.uses_exec && !options_.allow_exec) {
      std::string message = "$[" + std::to_string(i) + "]";
      message += ": exec steps need the daemon to run with --allow-exec";
      return JobError{JobErrorCode::forbidden, std::move(message)};
    }
    if (std::optional<JobError> refused = queue_refused(items[i].spec)) {
      std::string message = "$[" + std::to_string(i) + "]";
      message += refused->message.substr(1);
      return JobError{JobErrorCode::invalid, std::move(message)};
    }
  }
  std::vector<std::shared_ptr<Job>> jobs;
  std::vector<const Job*> rows;
  jobs.reserve(items.size());
  rows.reserve(items.size());
  SubmittedBatch out;
  out.ids.reserve(items.size());
  for (SubmitItem& item : items) {
    jobs.push_back(
        make_job(std::move(item.spec), std::move(item.spec_json), std::move(item.idempotency_key)));
    rows.push_back(jobs.back().get());
    out.ids.push_back(jobs.back()->id());
  }
  // All inserts before any start: the batch is one write, and no job's start is written first.
  out.ticket = backend_.insert_all(rows);
  for (std::shared_ptr<Job>& job : jobs)
    admit(std::move(job), out.ticket);
  return out;
}

std::shared_ptr<Job> JobService::make_job(JobSpec spec, json spec_json,
                                          std::string idempotency_key) {
  auto job = std::make_shared<Job>(backend_.next_id(), std::make_shared<JobSpec>(std::move(spec)),
                                   std::make_shared<json>(std::move(spec_json)), wall_ms());
  job->set_idempotency_key(std::move(idempotency_key));
  const JobSpec& s = job->spec();
  if (s.delay) {
    job->schedule(job->created_ms() + ms_of(*s.delay));
  } else if (s.at_ms) {
    job->schedule(std::max<std::int64_t>(*s.at_ms, 1));  // 0 would read as "not delayed"
  }
  return job;
}

void JobService::admit(std::shared_ptr<Job> job, WriteTicket insert) {
  live_[job->id()] = job;  // only now: an insert that threw leaves nothing behind
  transition(*job, "submitted");
  if (job->state() == JobState::scheduled) {
    sleep_until_due(*job, insert);
  } else if (queues_.may_start(queue_of(*job)) && !claim_first(*job)) {
    start_now(job);
  } else {
    enqueue(std::move(job));
    release_waiting();
  }
}

Result<json> JobService::get(const JobRef& ref) {
  std::optional<JobError> error;
  std::shared_ptr<Job> job = live(ref, error);
  if (!job) return *error;
  json out = full_json(*job);
  if (job->state() == JobState::pending) add_queue_place(*job, out);
  return out;
}

void JobService::enqueue(std::shared_ptr<Job> job) {
  NamedQueues::Queue& q = queue_of(*job);
  q.pending.push(std::move(job), wall_ms());
}

void JobService::start_now(const std::shared_ptr<Job>& job) {
  ++queue_of(*job).running;
  runner_.start(job);
  started(*job);
  offer_room();
}

void JobService::add_queue_place(const Job& job, json& out) const {
  const std::int64_t now = ua::ticks_ms();
  const bool waits_out_backoff = job.retry_at_ms() > now;
  // 1 for the job that starts when a slot frees: only jobs that may start now count.
  std::size_t ahead = 0;
  // A pending job is in its queue, which therefore exists.
  const PendingQueue& pending = queues_.find(job.spec().queue)->pending;
  for (const auto& [place, entry] : pending) {
    if (entry.job.get() == &job) break;
    if (entry.job->retry_at_ms() <= now) ++ahead;
  }
  out["queue_position"] = waits_out_backoff ? json(nullptr) : json(ahead + 1);
  out["queue_length"] = pending.size();
  const PendingQueue::Entry* queued = pending.find(job.id());
  out["queued_at"] =
      queued ? json(static_cast<double>(queued->queued_at_ms) / 1000.0) : json(nullptr);
  out["retry_at"] = waits_out_backoff
                        ? json(static_cast<double>(wall_ms() + (job.retry_at_ms() - now)) / 1000.0)
                        : json(nullptr);
}

Result<json> JobService::cancel(const JobRef& ref) {
  std::optional<JobError> error;
  std::shared_ptr<Job> job = live(ref, error);
  if (!job) return *error;
  if (job->state() == JobState::scheduled && !ref.step) {
    finish_pending(*job, JobState::cancelled, {"CancelledError", "cancelled while scheduled"});
    return summary_json(*job);
  }
  if (job->state() == JobState::pending && !ref.step) {
    finish_pending(*job, JobState::cancelled, {"CancelledError", "cancelled while pending"});
    return summary_json(*job);
  }
  const bool cancelled = ref.step ? runner_.cancel_step(ref.id, *ref.step) : runner_.cancel(ref.id);
  if (!cancelled) return not_running(ref);
  return summary_json(*job);
}

Result<json> JobService::set_timeout(const JobRef& ref, double timeout_s) {
  std::optional<JobError> error;
  std::shared_ptr<Job> job = live(ref, error);
  if (!job) return *error;
  if (std::optional<JobError> refused = timeout_error(*job, ref)) return *refused;
  ua::AnyTask& watch = timeouts_[job->id()];
  if (watch && !watch.done()) watch.cancel();
  watch = ua::create_task(watch_timeout(this, job, ms_of(timeout_s)));
  return summary_json(*job);
}

ua::Coro<void> JobService::watch_timeout(JobService* self, std::shared_ptr<Job> job,
                                         std::int64_t ms) {
  co_await ua::sleep_ms(ms);
  self->timeouts_.erase(job->id());  // this task: it must not be cancelled by the end it causes
  if (job->state() == JobState::pending || job->state() == JobState::scheduled) {
    self->finish_pending(*job, JobState::timed_out, {"TimeoutError", "the task's timeout expired"});
  } else if (job->state() == JobState::running) {
    self->runner_.time_out(job->id());
  }
}

Result<Removal> JobService::remove(const JobRef& ref) {
  std::optional<JobError> error;
  std::shared_ptr<Job> job = live(ref, error);
  if (!job) return *error;
  if (std::optional<JobError> refused = remove_error(*job, ref)) return *refused;
  // A scheduled job is cancelled first: its waiters and followers hear that it ended.
  if (job->state() == JobState::scheduled) {
    finish_pending(*job, JobState::cancelled, {"CancelledError", "deleted while scheduled"});
  }
  live_.erase(job->id());
  unwritten_.erase(job->id());
  return Removal{backend_.erase(job->id(), job->state()), job->state()};
}

Result<json> JobService::output(const JobRef& ref) {
  std::optional<JobError> error;
  std::shared_ptr<Job> job = live(ref, error);
  if (!job) return *error;
  if (std::optional<JobError> refused = output_error(*job, ref)) return *refused;
  return output_json(*job, ref.step);
}

Result<Done> JobService::follow_output(const JobRef& ref, OutputFollower follower,
                                       std::uint64_t key) {
  std::optional<JobError> error;
  std::shared_ptr<Job> job = live(ref, error);
  if (!job) return *error;
  if (std::optional<JobError> refused = output_error(*job, ref)) return *refused;
  replay_output(*job, ref.step, follower);
  if (is_final(job->state())) {
    follower.end({job->id_text(), job->state()});
  } else {
    followers_[job->id()].push_back({std::move(follower), ref.step, key});
  }
  return Done{};
}

void JobService::unfollow_output(std::uint64_t job_id, std::uint64_t key) {
  auto it = followers_.find(job_id);
  if (it == followers_.end()) return;
  std::erase_if(it->second, [key](const Follower& f) { return f.key == key; });
  if (it->second.empty()) followers_.erase(it);
}

std::vector<BulkOutcome> JobService::cancel_each(std::span<const std::uint64_t> ids) {
  std::vector<BulkOutcome> out(ids.size(), BulkOutcome::not_live);
  std::unordered_map<std::uint64_t, std::size_t> pending;  // id -> its index in `ids`
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::shared_ptr<Job> job = find_live(ids[i]);
    if (!job) continue;
    if (job->state() == JobState::scheduled) {
      finish_pending(*job, JobState::cancelled, {"CancelledError", "cancelled while scheduled"});
      out[i] = BulkOutcome::affected;
    } else if (job->state() == JobState::pending) {
      pending.emplace(ids[i], i);
    } else {
      out[i] = runner_.cancel(ids[i]) ? BulkOutcome::affected : BulkOutcome::skipped;
    }
  }
  if (pending.empty()) return out;
  std::vector<std::shared_ptr<Job>> taken;
  for (auto& [name, q] : queues_) {
    q.pending.erase_if([&](const PendingQueue::Entry& entry) {
      if (!pending.contains(entry.job->id())) return false;
      taken.push_back(entry.job);
      return true;
    });
  }
  for (const std::shared_ptr<Job>& job : taken) {
    job->finish_unstarted(JobState::cancelled, {"CancelledError", "cancelled while pending"},
                          wall_ms());
    finished(*job, JobState::pending);
    out[pending.at(job->id())] = BulkOutcome::affected;
  }
  return out;
}

FinishedHistory::Snapshot JobService::finished_history() const {
  return history_.snapshot(wall_ms() / 1000);
}

Result<FinishWatch> JobService::watch_finish(const JobRef& ref,
                                             std::function<void(const JobBody&)> on_finish) {
  std::optional<JobError> error;
  std::shared_ptr<Job> job = live(ref, error);
  if (!job) return *error;
  FinishWatch out;
  if (is_final(job->state())) {
    out.finished = std::make_shared<const std::string>(json_text(full_json(*job)));
    return out;
  }
  out.watch = ++last_watch_;
  watches_[job->id()].emplace(out.watch, std::move(on_finish));
  ++watch_count_;
  return out;
}

void JobService::cancel_watch(std::uint64_t job_id, std::uint64_t watch) {
  auto it = watches_.find(job_id);
  if (it == watches_.end() || it->second.erase(watch) == 0) return;
  --watch_count_;
  if (it->second.empty()) watches_.erase(it);
}

void JobService::started(Job& job) {
  write_now(job, JobState::pending);
  transition(job, "started");
  keep_alive();
}

void JobService::keep_alive() {
  if (beating_ || options_.heartbeat_ms <= 0) return;
  beating_ = true;
  heartbeat_ = ua::create_task(beat_while_running(this));
}

ua::Coro<void> JobService::beat_while_running(JobService* self) {
  // Ends with the last running job, so an idle daemon writes nothing; the next start begins it
  // again.
  while (self->runner_.size() > 0) {
    co_await ua::sleep_ms(self->options_.heartbeat_ms);
    if (self->runner_.size() > 0) self->backend_.mark_alive();
  }
  self->beating_ = false;
}

void JobService::runner_finished(Job& job) {
  NamedQueues::Queue& q = queue_of(job);
  if (q.running > 0) --q.running;
  if (!retry_later(job)) finished(job, JobState::running);
  start_pending();
}

void JobService::start_pending() {
  const std::int64_t now = ua::ticks_ms();
  for (auto& [name, q] : queues_) {
    for (auto it = q.pending.begin(); it != q.pending.end() && queues_.may_start(q);) {
      if (it->second.job->retry_at_ms() > now) {  // a retry still in its backoff
        ++it;
        continue;
      }
      std::shared_ptr<Job> next = it->second.job;
      it = q.pending.erase(it);
      start_now(next);
    }
  }
  release_waiting();
  offer_room();
}

void JobService::finish_pending(Job& job, JobState state, ErrorInfo error) {
  if (job.state() == JobState::scheduled) {
    scheduled_left(job);
    job.finish_unstarted(state, std::move(error), wall_ms());
    finished(job, JobState::scheduled);
    return;
  }
  std::optional<PendingQueue::Entry> keep = queue_of(job).pending.take(job.id());
  if (!keep) return;
  job.finish_unstarted(state, std::move(error), wall_ms());
  finished(job, JobState::pending);
}

void JobService::finished(Job& job, JobState was) {
  if (auto t = timeouts_.find(job.id()); t != timeouts_.end()) {
    if (t->second && !t->second.done()) t->second.cancel();
    timeouts_.erase(t);
  }
  // Written first: from here on a list, the counts and a read of the store see it finished.
  const WriteTicket ticket = write_now(job, was);
  if (options_.counted) options_.counted(job.state());
  history_.count(job.state(), wall_ms() / 1000);
  queues_.count_finished(queue_of(job), wall_ms() / 1000);
  // Output followers first: on a shared event stream their end goes before the batched
  // "finished", so a client that saw the end does not fetch the output once more.
  end_followers(job);
  transition(job, "finished");
  if (auto it = watches_.find(job.id()); it != watches_.end()) {
    const auto watching = std::move(it->second);
    watches_.erase(it);
    watch_count_ -= watching.size();
    const JobBody body = std::make_shared<const std::string>(json_text(full_json(job)));
    for (const auto& [watch, on_finish] : watching)
      on_finish(body);
  }
  release_when_committed(job.id(), ticket);
}

void JobService::spawn(ua::Coro<void> coro) {
  if (background_.size() >= 64) {
    std::erase_if(background_, [](const ua::AnyTask& t) { return !t || t.done(); });
  }
  background_.push_back(ua::create_task(std::move(coro)));
}

void JobService::release_when_committed(std::uint64_t id, WriteTicket ticket) {
  releasing_.emplace_back(id, ticket);
  release_committed();
  if (!releasing_.empty() && !release_queued_) {
    release_queued_ = true;
    spawn(release_committed_soon(this));
  }
}

void JobService::release_committed() {
  while (!releasing_.empty() && backend_.committed(releasing_.front().second)) {
    const std::uint64_t id = releasing_.front().first;
    releasing_.pop_front();
    // Still finished (a retry may not take it back: only unfinished jobs retry).
    if (auto it = live_.find(id); it != live_.end() && is_final(it->second->state())) {
      unwritten_.erase(id);
      live_.erase(it);
    }
  }
}

ua::Coro<void> JobService::release_committed_soon(JobService* self) {
  while (!self->releasing_.empty()) {
    co_await ua::sleep_ms(kReleasePollMs);
    self->release_committed();
  }
  self->release_queued_ = false;
}

void JobService::cancel_all() {
  for (auto& [name, q] : queues_) {
    while (!q.pending.empty()) {
      finish_pending(*q.pending.begin()->second.job, JobState::cancelled,
                     {"CancelledError", "daemon shutdown"});
    }
  }
  for (const auto& [id, job] : live_) {
    if (job->state() == JobState::running) runner_.cancel(id);
  }
}

void JobService::release_all() {
  flush_writes();  // the backend outlives the loop: what the last turns changed is still stored
  for (auto& [id, watch] : timeouts_)
    watch = ua::AnyTask();
  timeouts_.clear();
  if (due_timer_ && !due_timer_.done()) due_timer_.cancel();
  due_timer_ = ua::AnyTask();
  due_timer_waking_ = false;
  in_due_timer_ = false;
  staged_.clear();
  due_.clear();
  parked_.clear();
  parking_.clear();
  // The service's own timers end with it: a loop that runs on (a test's restart of the service)
  // must not resume them.
  for (ua::AnyTask& t : background_) {
    if (t && !t.done()) t.cancel();
  }
  background_.clear();
  parking_queued_ = false;
  release_queued_ = false;
  flush_queued_ = false;
  for (auto& [name, q] : queues_)
    q.scheduled = 0;
  if (heartbeat_ && !heartbeat_.done()) heartbeat_.cancel();
  heartbeat_ = ua::AnyTask();
  beating_ = false;
  runner_.abandon_all();
  for (auto& [name, q] : queues_) {
    q.pending.clear();
    q.running = 0;
  }
}

void JobService::transition(const Job& job, const char* type) {
  spdlog::debug("task {} {}: {}", job.id_text(), type, state_name(job.state()));
  if (!options_.publish || (options_.events_wanted && !options_.events_wanted())) return;
  json event{{"type", type},
             {"id", job.id_text()},
             {"name", job.name()},
             {"kind", kind_name(job.spec().root.kind)},
             {"state", state_name(job.state())},
             {"time", static_cast<double>(wall_ms()) / 1000.0}};
  if (job.run_at_ms() != 0) event["run_at"] = static_cast<double>(job.run_at_ms()) / 1000.0;
  if (job.error()) event["error"] = error_json(job.error());
  options_.publish(event);
}

void JobService::write_later(const Job& job, bool with_output) {
  bool& output = unwritten_[job.id()];
  output = output || with_output;
  if (flush_queued_) return;
  flush_queued_ = true;
  spawn(flush_writes_soon(this));
}

WriteTicket JobService::write_now(Job& job, JobState was) {
  bool with_output = false;
  if (auto it = unwritten_.find(job.id()); it != unwritten_.end()) {
    with_output = it->second;
    unwritten_.erase(it);
  }
  return backend_.update(job, was, with_output);
}

void JobService::flush_writes() {
  flush_queued_ = false;
  for (const auto& [id, with_output] : unwritten_) {
    // Gone (deleted) since: nothing to write.
    if (auto it = live_.find(id); it != live_.end()) {
      backend_.update(*it->second, it->second->state(), with_output);
    }
  }
  unwritten_.clear();
}

ua::Coro<void> JobService::flush_writes_soon(JobService* self) {
  // A short wait gathers many changes per row write, and a job that ends within it costs no
  // extra write at all (its end is written at once, with the steps): step progress is stored at
  // most this late, which only a crash in between could show.
  constexpr std::int64_t kStepFlushMs = 50;
  co_await ua::sleep_ms(kStepFlushMs);
  self->flush_writes();
}

void JobService::step_changed(Job& job, std::size_t index) {
  const JobStep& s = job.step(index);
  write_later(job, std::holds_alternative<ExecStep>(s.spec().kind) && is_final(s.state()));
  spdlog::trace("step {} {}", job.step_id(index), state_name(s.state()));
  if (!options_.publish || (options_.events_wanted && !options_.events_wanted())) return;
  options_.publish({{"type", "step"},
                    {"id", job.id_text()},
                    {"step", job.step_id(index)},
                    {"kind", kind_name(s.spec().kind)},
                    {"name", s.spec().name},
                    {"state", state_name(s.state())},
                    {"time", static_cast<double>(wall_ms()) / 1000.0}});
}

void JobService::step_output(Job& job, std::size_t index, bool is_stderr, std::string_view data) {
  auto it = followers_.find(job.id());
  if (it == followers_.end()) return;
  // The runner has counted `data` as published already.
  const std::size_t published = job.step(index).exec()->stream(is_stderr).published;
  const OutputChunk chunk{job.step_id(index), is_stderr, data, published - data.size()};
  std::erase_if(it->second, [&](const Follower& f) {
    return (!f.step || *f.step == index) && !f.to.chunk(chunk);
  });
  if (it->second.empty()) followers_.erase(it);
}

void JobService::end_followers(const Job& job) {
  auto it = followers_.find(job.id());
  if (it == followers_.end()) return;
  for (const Follower& f : it->second)
    f.to.end({job.id_text(), job.state()});
  followers_.erase(it);
}

}  // namespace uasyncd::server
