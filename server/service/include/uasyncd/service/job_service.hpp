// The job service: the loop thread's side of the daemon. Admits jobs, keeps delayed ones
// scheduled until their time (one timer for all of them; a far one waits as an entry of 16 bytes,
// its job in the backend only: schedule.cpp), starts them (at most
// --max-running at once, the rest wait highest priority first, then first in first out:
// pending_queue.hpp), retries failed ones after their
// backoff, times them out, cancels them, tells waiters, output followers and the event stream,
// and writes every change to the backend, which is the source of truth. RAM holds live jobs
// only: a finished job stays here until its final write is committed, then is read back from
// the backend.
//
// Threads: created, called and destroyed on the loop thread only (the bridge posts to it). It
// returns typed results and JobErrors, never HTTP replies. Jobs that are not live answer
// JobErrorCode::not_live: the caller then asks StoredJobs.
#pragma once

#include <nlohmann/json.hpp>
#include <uasyncio/uasyncio.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "uasyncd/job/job.hpp"
#include "uasyncd/job/job_id.hpp"
#include "uasyncd/runner/job_runner.hpp"
#include "uasyncd/service/due_queue.hpp"
#include "uasyncd/service/finished_history.hpp"
#include "uasyncd/service/job_error.hpp"
#include "uasyncd/service/job_rules.hpp"
#include "uasyncd/service/named_queues.hpp"
#include "uasyncd/service/pending_queue.hpp"
#include "uasyncd/store/job_backend.hpp"
#include "uasyncd/store/pg_cluster.hpp"

namespace uasyncd::server {

struct ServiceOptions {
  std::size_t max_running = 0;  // the default queue's limit; 0: no limit
  // Limits of named queues given at start (--queue NAME=N): they replace stored ones. The
  // default queue's is `max_running`, which replaces a stored one when `max_running_given`.
  std::map<std::string, std::size_t> queue_limits;
  bool max_running_given = false;
  bool allow_exec = false;  // exec steps are refused unless set
  std::int64_t exec_kill_grace_ms = 5000;
  // While jobs run, the backend hears this often that the daemon is alive (mark_alive): how late
  // an interrupted job's end may be, at most. 0: never (a daemon on a virtual clock, whose
  // seconds are not the wall clock's: a 1 s beat would make a 1e308 s sleep take 1e308 turns).
  std::int64_t heartbeat_ms = 1000;
  // Told of every transition (JSON events for GET /api/events), when `events_wanted` says that
  // anyone listens. Called on the loop thread; must not block.
  std::function<void(const nlohmann::json& event)> publish;
  std::function<bool()> events_wanted;
  // Cluster mode (a shared backend): told which queues have room for how many more tasks
  // whenever a task starts or ends (the cluster claims tasks others released into that room).
  // Loop thread; must not block.
  std::function<void(std::map<std::string, std::size_t> free)> want_claim;
  // Told of every job that reached its final state (where the "finished" event is published, and
  // for jobs found interrupted at start). Called on the loop thread; must not block.
  std::function<void(JobState final_state)> counted;
};

// A finished job's full record as JSON text, made once and shared by everyone who gets it (every
// long-poll waiting for the job, and the read cache): immutable, any thread.
using JobBody = std::shared_ptr<const std::string>;

// A job's end, or a registered wish to hear of it.
struct FinishWatch {
  JobBody finished;         // set: the job has finished (nothing was registered)
  std::uint64_t watch = 0;  // else: the registration, for cancel_watch
};

struct Submitted {
  std::uint64_t id = 0;
  WriteTicket ticket = 0;  // the insert: committed before the job may be called accepted
  nlohmann::json job;      // its full record
  bool held = true;        // still live here (cluster mode: not released to the others)
};

// One task of a batch submit.
struct SubmitItem {
  JobSpec spec;
  nlohmann::json spec_json;
  std::string idempotency_key;  // empty: none
};

struct SubmittedBatch {
  std::vector<std::uint64_t> ids;  // in the order of the items
  WriteTicket ticket = 0;          // the one write of all the inserts
};

// What a bulk request did to one job (POST /api/tasks/bulk).
enum class BulkOutcome {
  affected,  // cancelled (or asked to, if running), or deleted
  skipped,   // not in a state the action applies to
  not_live,  // not in the loop's RAM: the caller asks the store
};

class JobService {
 public:
  JobService(ServiceOptions options, JobBackend& backend);
  ~JobService();
  JobService(const JobService&) = delete;
  JobService& operator=(const JobService&) = delete;

  // `idempotency_key`: stored with the job (the bridge keeps keys unique).
  Result<Submitted> submit(JobSpec spec, nlohmann::json spec_json,
                           std::string idempotency_key = {});
  // A periodic schedule's run: the job is inserted together with the schedule's row, which
  // `schedule_row` makes from the new job's id (JobBackend::insert_fired: one transaction).
  Result<Submitted> submit_fired(JobSpec spec, nlohmann::json spec_json,
                                 const std::function<SettingRow(std::uint64_t id)>& schedule_row);
  // The state of a live job (scheduled, pending, running); nullopt when it is not live.
  std::optional<JobState> live_state(std::uint64_t id) const;
  // Several jobs at once, in order: all admitted, their inserts one write (JobBackend::insert_all),
  // or none (an exec step without allow_exec: forbidden, naming the item as `$[i]`).
  Result<SubmittedBatch> submit_all(std::vector<SubmitItem> items);
  // The full record of a live job (a step ref gives its job); a pending one with its place in
  // the queue (queue_position, queue_length, queued_at, retry_at: O(pending)).
  Result<nlohmann::json> get(const JobRef& ref);
  // 202-style answers: the job's summary after the request took effect.
  Result<nlohmann::json> cancel(const JobRef& ref);
  Result<nlohmann::json> set_timeout(const JobRef& ref, double timeout_s);
  // The erase's ticket and the state the job had.
  Result<Removal> remove(const JobRef& ref);
  Result<nlohmann::json> output(const JobRef& ref);
  // Replays the output so far, then (registered in the same loop turn: no gap) passes on each
  // chunk as it comes, then the end. A finished job gets its end at once. `key` names the
  // follower for unfollow_output (0: none).
  Result<Done> follow_output(const JobRef& ref, OutputFollower follower, std::uint64_t key = 0);
  // Forgets the follower of job `job_id` registered with `key`: it is told nothing more.
  void unfollow_output(std::uint64_t job_id, std::uint64_t key);
  // Bulk cancel: each job as cancel() does (pending ones taken off the queue in one pass, not
  // one search each), an outcome per id in order.
  std::vector<BulkOutcome> cancel_each(std::span<const std::uint64_t> ids);
  // Jobs finished per second and final state, the last 15 minutes (the current second left out).
  FinishedHistory::Snapshot finished_history() const;
  // A finished job's record at once; else `on_finish` is registered and called once with the
  // record when the job ends, unless cancel_watch(ref.id, watch) comes first. Every watch of a
  // job gets the same body, made once.
  Result<FinishWatch> watch_finish(const JobRef& ref,
                                   std::function<void(const JobBody&)> on_finish);
  // Forgets a watch whose waiter has gone (its poll timed out); a no-op once it was called.
  void cancel_watch(std::uint64_t job_id, std::uint64_t watch);
  std::size_t watches() const { return watch_count_; }

  // Start-up (recovery.cpp): the backend's live jobs are queued again or interrupted.
  void restore();
  // Shutdown: cancels every pending and running job. Scheduled jobs stay scheduled in the
  // backend: the next daemon runs them.
  void cancel_all();
  std::size_t unfinished() const { return runner_.size() + queues_.pending_total(); }
  std::size_t running() const { return runner_.size(); }

  // ---- named queues (queues.cpp) ----
  // A queue as GET /api/queues shows it: name, max_running, paused, running, pending, scheduled,
  // finished_per_second. not_found for a queue that is neither configured nor used.
  Result<nlohmann::json> queue(const std::string& name) const;
  // Every queue, by name.
  nlohmann::json queue_list() const;
  // PUT /api/queues/{name}: sets what is given, stores it (`ticket`: the write), starts what the
  // change lets start. invalid: too many queues.
  Result<nlohmann::json> set_queue(const std::string& name, std::optional<std::size_t> max_running,
                                   std::optional<bool> paused, WriteTicket& ticket);
  std::size_t scheduled() const { return queues_.scheduled_total(); }
  // Scheduled jobs kept in the backend only (not in RAM) until they are due or asked for.
  std::size_t parked() const { return parked_.size(); }
  // Before the loop goes away: writes what is batched, kills exec processes, drops handles.
  void release_all();

  // ---- cluster mode: a backend several daemons share (cluster_claims.cpp) ----
  // Rows this instance claimed: taken in as a restart takes in what it finds (orphans of a dead
  // instance re-queued or interrupted, or cancelled if asked to; due ones started).
  void adopt(std::vector<ClaimedRow> rows);
  // Cancels the live jobs another instance was asked to cancel (ids that are not live: none).
  void cancel_requested(std::span<const std::uint64_t> ids);
  // The lease is lost: running jobs are cancelled (their exec processes killed), waiting ones
  // forgotten without a write: other instances own them now.
  void abandon_all();
  // Per queue with room (not paused): how many more tasks it could take now.
  std::map<std::string, std::size_t> free_slots() const;
  std::uint64_t released() const { return released_; }
  std::uint64_t adopted() const { return adopted_; }

 private:
  // The live job a ref names (unparked if it was parked).
  std::shared_ptr<Job> live(const JobRef& ref, std::optional<JobError>& error);
  // A new job with the next id (not yet written, not yet live).
  std::shared_ptr<Job> make_job(JobSpec spec, nlohmann::json spec_json,
                                std::string idempotency_key);
  // A new job becomes live: its "submitted" event, then its start or its place in the queue.
  // `insert`: the ticket of its insert.
  void admit(std::shared_ptr<Job> job, WriteTicket insert);
  void started(Job& job);
  void finished(Job& job, JobState was);
  void runner_finished(Job& job);
  void start_pending();
  // Cluster mode: pending jobs that cannot start now leave RAM, unowned in the backend.
  void release_waiting();
  // Cluster mode: tells the cluster the room there is now (ServiceOptions::want_claim).
  void offer_room();
  // Cluster mode: a task of a named queue (whose limit holds for the whole cluster) starts only
  // once claimed, never straight from its submit or its due time.
  bool claim_first(const Job& job) const;
  // A scheduled or pending job ends without having run (cancelled, timed out).
  void finish_pending(Job& job, JobState state, ErrorInfo error);
  // schedule.cpp: a scheduled job waits until its run_at (wall clock, read as a delay from now
  // on the loop's clock), then is due: pending, and started when a slot is free.
  // `insert`: the ticket of its insert (0: stored already), after whose commit a job not due
  // soon leaves RAM (it is parked).
  void sleep_until_due(const Job& job, WriteTicket insert = 0);
  // The job is no longer scheduled (due, cancelled or deleted): its queue's count goes down.
  void scheduled_left(const Job& job);
  void due(std::uint64_t id);
  // The one timer: takes in the staged jobs, sleeps until the earliest entry's time, fires what
  // is due. wake_due_timer restarts it (a new job may be due first).
  void wake_due_timer();
  static uasyncio::Coro<void> fire_when_due(JobService* self);
  // Parks the scheduled jobs whose insert is committed and which are not due soon.
  void park_committed();
  static uasyncio::Coro<void> park_soon(JobService* self);
  // A parked job back in RAM (read from the backend), or null when `id` is not parked.
  std::shared_ptr<Job> unpark(std::uint64_t id);
  // The live job `id`, unparked if it was parked; null if it is not live.
  std::shared_ptr<Job> find_live(std::uint64_t id);
  // Puts a job at the end of its queue, noting when (its queued_at).
  void enqueue(std::shared_ptr<Job> job);
  // Starts a job of a queue with room.
  void start_now(const std::shared_ptr<Job>& job);
  NamedQueues::Queue& queue_of(const Job& job) { return queues_.at(job.spec().queue); }
  // Why a job of this spec may not be made (a new queue past kMaxQueues); nullopt: it may.
  std::optional<JobError> queue_refused(const JobSpec& spec) const;
  // queues.cpp: the stored queue settings, then the --queue and --max-running flags over them.
  void restore_queues();
  nlohmann::json queue_json(const std::string& name, const NamedQueues::Queue& q) const;
  void add_queue_place(const Job& job, nlohmann::json& out) const;
  // retry.cpp: a failed or timed-out job with retries left goes back to pending after its
  // backoff; false when it has none left.
  bool retry_later(Job& job);
  static uasyncio::Coro<void> start_pending_after(JobService* self, std::int64_t ms);
  // Starts one of the service's own timers (flush, release, park, a retry's backoff): they are
  // cancelled by release_all, so none outlives the service.
  void spawn(uasyncio::Coro<void> coro);
  // Keeps a job that has ended in RAM until its final write is committed.
  void release_when_committed(std::uint64_t id, WriteTicket ticket);
  void release_committed();
  static uasyncio::Coro<void> release_committed_soon(JobService* self);
  static uasyncio::Coro<void> watch_timeout(JobService* self, std::shared_ptr<Job> job,
                                            std::int64_t ms);
  void transition(const Job& job, const char* type);
  void step_changed(Job& job, std::size_t index);
  void step_output(Job& job, std::size_t index, bool is_stderr, std::string_view data);
  void end_followers(const Job& job);
  // Step changes are written in a batch shortly after, not one by one: a gather of thousands of
  // steps costs one row write. `with_output`: an exec step ended, the output of the exec steps
  // that ended since the last write goes along.
  void write_later(const Job& job, bool with_output);
  // Writes the job now (it changed from `was`), with whatever output a write_later asked for.
  WriteTicket write_now(Job& job, JobState was);
  void flush_writes();
  static uasyncio::Coro<void> flush_writes_soon(JobService* self);
  // While any job runs, the backend hears once a second that the daemon is alive (mark_alive),
  // so a restart can end an interrupted job's run near where it stopped, not at the restart.
  void keep_alive();
  static uasyncio::Coro<void> beat_while_running(JobService* self);

  ServiceOptions options_;
  JobBackend& backend_;
  JobRunner runner_;
  std::unordered_map<std::uint64_t, std::shared_ptr<Job>> live_;
  NamedQueues queues_;
  // Every scheduled job's time (stale entries of cancelled ones included), the parked ones, and
  // those to park once their insert is committed.
  DueQueue due_;
  IdBitmap parked_;
  std::deque<std::pair<std::uint64_t, WriteTicket>> parking_;
  bool parking_queued_ = false;

  // Jobs scheduled since the timer last ran, with their wall-clock run_at (DueQueue::Due::at_ms
  // holds it here): the timer turns them into loop times when it runs.
  std::vector<DueQueue::Due> staged_;
  uasyncio::AnyTask due_timer_;
  bool due_timer_waking_ = false;  // restarted, its first turn not run yet
  bool in_due_timer_ = false;      // its code is running (between its waits)
  std::deque<std::pair<std::uint64_t, WriteTicket>> releasing_;
  bool release_queued_ = false;
  std::unordered_map<std::uint64_t, uasyncio::AnyTask> timeouts_;
  // job id -> watch id -> callback
  std::unordered_map<std::uint64_t,
                     std::unordered_map<std::uint64_t, std::function<void(const JobBody&)>>>
      watches_;
  std::uint64_t last_watch_ = 0;
  std::size_t watch_count_ = 0;
  struct Follower {
    OutputFollower to;
    std::optional<std::size_t> step;  // only this step's output
    std::uint64_t key = 0;            // for unfollow_output
  };
  std::unordered_map<std::uint64_t, std::vector<Follower>> followers_;
  std::unordered_map<std::uint64_t, bool> unwritten_;  // id -> with_output
  bool flush_queued_ = false;
  uasyncio::AnyTask heartbeat_;
  bool beating_ = false;
  std::vector<uasyncio::AnyTask> background_;  // spawn()
  FinishedHistory history_;
  std::uint64_t released_ = 0;
  std::uint64_t adopted_ = 0;
};

}  // namespace uasyncd::server
