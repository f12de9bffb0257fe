// The thread boundary of the daemon, in one place. HTTP threads call JobBridge; it answers from
// the store and the read cache on the calling thread where it can, and hands everything that
// needs a live job to the loop thread, which owns the JobService and every live job.
//
//   thread        | may touch
//   --------------+------------------------------------------------------------------------
//   HTTP threads  | JobBridge's public calls; the backend's reads, erase and commit waits;
//                 | FinishedJobCache; EventHub::subscribe and publish (removals); EventStreams;
//                 | a finish watch it registered; its own SseChannel's reader side; the
//                 | producer side of a channel it replays a stored job's output into
//   loop thread   | JobService and the live jobs (inside LoopThread::call/post only); the
//                 | backend's writes; EventHub::publish; SseChannel's producer side;
//                 | finish watch callbacks; each event stream's follow set; a JobWait's
//                 | watch, and its answer (the backend's reads when the job has just left RAM)
//   writer thread | the SQLite file (inside the backend); FinishedJobCache::erase of jobs
//                 | retention removed and their "removed" events (publish_removed, through
//                 | BackendOptions::on_removed)
//
// Per call (all from an HTTP thread):
//   submit         with an Idempotency-Key: keys_in_flight_, then the store's key index (a
//                  retained job: its record, no loop); loop: JobService::submit; then waits (on
//                  its thread) for the insert's commit
//   list, counts   the backend's readers only (no loop)
//   get            cache, else the store (finished jobs: cached), else the loop
//   start_wait     cache or store (a finished job: answered at once), else posted to the loop,
//                  which registers a watch and answers when the job ends: no thread blocks
//   end_wait       posted to the loop: the watch is cancelled, and answered with the job as it
//                  is when the poll's time is up
//   cancel, set_timeout, output, follow_output
//                  loop first; StoredJobs (the store) when the job is not live
//   remove         loop first, else StoredJobs; waits for the erase's commit, then drops the
//                  cached body, publishes the "removed" event, then answers
//   bulk           reads pages of matches from the store, then acts on them on the loop in
//                  chunks of kBulkChunk jobs per loop turn (a delete of a job that is not live:
//                  the store, on this thread), as cancel and remove do one by one
//   subscribe_events, open_event_stream, close_event_stream
//                  EventHub and EventStreams (no loop; close unfollows on the loop)
//   follow         loop: the stream's follow set and the live jobs' followers, in one turn;
//                  then the stored output of jobs that are not live, on this thread
//   finished_history  loop: a copy of the service's ring
// A loop that does not answer within loop_reply_timeout gives JobErrorCode::unavailable.
//
// Lifetime: start() before the first call, stop() after the HTTP server has stopped; the backend
// and the cache outlive the bridge.
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "uasyncd/bridge/event_hub.hpp"
#include "uasyncd/bridge/event_streams.hpp"
#include "uasyncd/bridge/finished_job_cache.hpp"
#include "uasyncd/bridge/loop_thread.hpp"
#include "uasyncd/bridge/remote_waits.hpp"
#include "uasyncd/bridge/sse_channel.hpp"
#include "uasyncd/exec/supervisor_client.hpp"
#include "uasyncd/service/job_service.hpp"
#include "uasyncd/service/periodic_schedules.hpp"
#include "uasyncd/service/stored_jobs.hpp"

namespace uasyncd::server {

// A JSON document: parsed, or already serialized (a cached finished job, sent as it is).
struct JsonDoc {
  nlohmann::json json;
  std::shared_ptr<const std::string> text;  // when set, `json` is unused
};

struct Waited {
  JsonDoc job;
  bool finished = false;  // false: the wait timed out; `job` is the job as it is
};

struct Submission {
  nlohmann::json job;     // the full record
  bool replayed = false;  // an earlier submit with the same Idempotency-Key made it
};

// A batch submit's answer: the tasks' ids in the order of the specs.
struct BatchSubmission {
  std::vector<std::uint64_t> ids;
  bool replayed = false;  // an earlier batch with the same Idempotency-Key made them
};

// The Idempotency-Key stored with task `index` of a batch submitted with `key`: `key` itself for
// the first, "key index" for the others (a space is never in a client's key, so these cannot be
// claimed by another submit).
std::string batch_item_key(const std::string& key, std::size_t index);

// POST /api/tasks/bulk: cancel or delete jobs named by id or matching a filter.
enum class BulkAction { cancel, remove };
inline constexpr std::uint64_t kBulkMaxJobs = 100'000;  // matches handled per request
inline constexpr std::size_t kBulkChunk = 1000;         // jobs per loop turn

struct BulkRequest {
  BulkAction action = BulkAction::cancel;
  std::vector<std::uint64_t> ids;  // job ids, or (when empty) `filter`
  // The jobs `filter` lists (its state, name and name_contains; `before`: only older ones),
  // newest first.
  ListQuery filter;
  std::optional<std::uint64_t> at_most;  // act on at most this many matches, newest first
};

struct BulkResult {
  std::uint64_t matched = 0;   // jobs the ids or the filter selected (capped by at_most)
  std::uint64_t affected = 0;  // cancelled (or asked to) or deleted
  std::uint64_t skipped = 0;   // finished (cancel), not finished (delete), or unknown
  // kBulkMaxJobs were handled and older matches remain: pass `next_cursor` as the filter's
  // `before` to go on.
  bool more = false;
  std::optional<std::uint64_t> next_cursor;
};

struct BridgeOptions {
  ServiceOptions service;  // its publish/events_wanted are set by the bridge
  bool virtual_clock = false;
  std::chrono::milliseconds loop_reply_timeout{5000};
  std::uint64_t bulk_max_jobs = kBulkMaxJobs;  // matches per bulk request (tests lower it)
  // The exec supervisor of the loop's exec steps (exec/supervisor_client.hpp); none: exec steps
  // fail ("exec steps need the exec supervisor"). Started with the loop when service.allow_exec.
  std::optional<exec::SupervisorOptions> exec_supervisor;
  // Cluster mode: cancels a task this instance does not hold (another instance does, or none
  // does and it waits for a claim). True when the cancel was sent or done; false when the task
  // is not live anywhere. HTTP threads; may throw StoreError.
  std::function<bool(std::uint64_t id)> cancel_elsewhere;
  // Cluster mode: asks the instance that holds live task `id` to apply a request (a timeout of
  // `value` ms from now, or a cancel of its step `value`). nullopt: the task is not live
  // anywhere (finished, or no such task); else Done, or why not (its owner refused or did not
  // answer, or no instance holds it yet). HTTP threads; blocks until the owner answers (about
  // 2 s at most); may throw StoreError.
  std::function<std::optional<Result<Done>>(RemoteRequest::Kind kind, std::uint64_t id,
                                            std::int64_t value)>
      ask_owner;
  // Cluster mode: the instances sharing the database, as GET /api/instances lists them (an
  // "instances" array). HTTP threads; may throw StoreError. Unset: this daemon alone.
  std::function<nlohmann::json()> instances;
  // Cluster mode: this instance's id, shown as "instance" in the records of the live tasks it
  // holds (another's id for theirs). Any thread.
  std::function<std::int64_t()> instance_id;
  // Cluster mode: the lease's age (since its last renewal), for /metrics. Any thread.
  std::function<std::chrono::milliseconds()> lease_age;
  // Cluster mode: whether another instance has an event stream open; where this instance's
  // events go for them (a JSON text each); and the news that this one has a stream open now.
  // Loop thread (forward_event, remote_watchers) and HTTP threads (watching); never block.
  std::function<bool()> remote_watchers;
  std::function<void(std::string event)> forward_event;
  std::function<void()> watching;
};

// PUT /api/events/{stream}/follow.
struct Following {
  std::vector<std::string> following;  // the ids now followed
  std::vector<std::string> unknown;    // no such job, or a step that is not an exec step
};

// One long-poll's wait for a job's end, which no thread blocks on: made by its caller, started
// by JobBridge::start_wait, ended early by JobBridge::end_wait. Its answer is given exactly once,
// on whichever thread has it (the caller's for a job that has finished already, else the loop's),
// or never if end_wait says its client has gone.
// Threads: answer_once is safe from any thread; `watch` and `ref` belong to the loop thread
// after start_wait. Lifetime: shared by the bridge's posted commands and the caller.
class JobWait {
 public:
  // Must not block: it runs on the loop thread.
  using Answer = std::function<void(Result<Waited>)>;
  JobWait(JobRef ref, Answer answer) : ref_(ref), answer_(std::move(answer)) {}

  const JobRef& ref() const { return ref_; }
  // Gives `r` if no answer was given yet (and drops the callback); false if one was.
  bool answer_once(Result<Waited> r);
  // Drops the callback unanswered; false if it was answered already.
  bool forget() { return !answered_.exchange(true); }
  bool answered() const { return answered_.load(); }

  std::uint64_t watch = 0;  // the service's registration (loop thread)
  // The task runs on another instance: RemoteWaits answers it, not the loop.
  std::atomic<bool> remote{false};

 private:
  const JobRef ref_;
  Answer answer_;
  std::atomic<bool> answered_{false};
};

struct DaemonStats {
  StateCounts counts{};
  std::uint64_t retained = 0;         // jobs the store holds
  std::uint64_t submitted_total = 0;  // accepted since start
  StateCounts finished_total{};       // jobs that reached each final state since start
  double loop_lag_seconds = 0;
  double uptime_seconds = 0;
  BackendStats store;  // the task store's commits (all zero for memory)
  // Cluster mode: the age of the instance's lease (since its last renewal).
  std::optional<double> lease_age_seconds;
};

class JobBridge {
 public:
  JobBridge(BridgeOptions options, JobBackend& backend, FinishedJobCache& cache);
  ~JobBridge();
  JobBridge(const JobBridge&) = delete;
  JobBridge& operator=(const JobBridge&) = delete;

  // Starts the loop thread, with the service on it (stored live jobs restored).
  void start();
  // Ends every event stream, cancels every job, gives them up to `grace` to end, stops the loop.
  void stop(std::chrono::milliseconds grace);

  // A new job (`replayed` false), or, for an `idempotency_key` (empty: none) that a retained job
  // was submitted with, that job as it is now (`replayed` true; key_reused if its spec differs).
  // A submit answered `unavailable` either did nothing or made a job its key finds.
  Result<Submission> submit(JobSpec spec, nlohmann::json spec_json,
                            std::string idempotency_key = {});
  // Several new jobs (at most the caller's cap), admitted in order and stored in one write:
  // answered once all are committed; after a crash either all of them are stored or none is. With
  // an `idempotency_key`, task i is stored with batch_item_key(key, i), and a later batch with
  // the same key and the same specs in the same order gets the same ids (`replayed`); other specs,
  // another count, a key a single submit used with another spec, or an earlier batch some of
  // whose tasks are gone: key_reused.
  Result<BatchSubmission> submit_all(std::vector<SubmitItem> items,
                                     std::string idempotency_key = {});
  Result<ListPage> list(const ListQuery& query);
  Result<JsonDoc> get(const JobRef& ref);
  // Starts waiting for the job's end without blocking: `wait` is answered once with the finished
  // job (at once, on this thread, when it has finished already), or with an error (no such job:
  // not_found; a stopping loop: unavailable), unless end_wait drops it first. Once.
  void start_wait(const std::shared_ptr<JobWait>& wait);
  // Ends a wait early, without blocking. `answer_now`: the poll's time is up, the wait is answered
  // with the job as it is (finished=false while it runs); otherwise its client has gone and it
  // is never answered. Nothing happens once it was answered.
  void end_wait(const std::shared_ptr<JobWait>& wait, bool answer_now);
  Result<nlohmann::json> cancel(const JobRef& ref);
  Result<nlohmann::json> set_timeout(const JobRef& ref, double timeout_s);
  Result<nlohmann::json> remove(const JobRef& ref);
  Result<BulkResult> bulk(const BulkRequest& request);
  Result<nlohmann::json> output(const JobRef& ref);
  // Fills `channel` with the output so far, each chunk as it comes, then an end item, and closes
  // it. Items are SSE frames ("output" and "end" events).
  Result<Done> follow_output(const JobRef& ref, std::shared_ptr<SseChannel> channel);
  // `channel` gets every job transition (JSON items) until it is abandoned or the bridge stops.
  void subscribe_events(std::shared_ptr<SseChannel> channel);
  // subscribe_events, and the stream is known by `id` for follow() until close_event_stream.
  // False (nothing done) when `id` is already taken.
  bool open_event_stream(const std::string& id, std::shared_ptr<SseChannel> channel);
  // The stream has ended: its follow set goes with it.
  void close_event_stream(const std::string& id);
  // Makes `refs` (jobs: all their exec steps; exec steps) the output stream `stream` follows,
  // at most kMaxFollowed: for each one new in the set, its output so far, then each chunk as it
  // comes ("output" frames), then its end ("output-end"); a finished job's at once.
  Result<Following> follow(const std::string& stream, const std::vector<JobRef>& refs);
  // Tells the event streams that jobs are gone ("removed" events): `reason` is "deleted" or
  // "evicted". Any thread; call once the removal is visible to reads.
  void publish_removed(std::span<const RemovedJob> jobs, const char* reason);
  Result<FinishedHistory::Snapshot> finished_history();
  // schedule_calls.cpp: periodic schedules (PeriodicSchedules, on the loop). A change is
  // answered once it is committed; a record's last run gets its state from the store when the
  // run is no longer live. trigger_schedule answers with the new run's record.
  Result<nlohmann::json> add_schedule(ScheduleDefinition definition);
  Result<nlohmann::json> get_schedule(const std::string& name);
  Result<nlohmann::json> list_schedules();
  Result<nlohmann::json> remove_schedule(const std::string& name);
  Result<nlohmann::json> pause_schedule(const std::string& name, bool paused);
  Result<nlohmann::json> trigger_schedule(const std::string& name);
  // queue_calls.cpp: named queues (JobService, on the loop); a change is answered once stored.
  Result<nlohmann::json> list_queues();
  Result<nlohmann::json> get_queue(const std::string& name);
  Result<nlohmann::json> set_queue(const std::string& name, std::optional<std::size_t> max_running,
                                   std::optional<bool> paused);
  DaemonStats stats() const;
  // Why the task store cannot be used now (JobBackend::unavailable_reason), for /healthz. Any
  // thread; may ask the database.
  std::optional<std::string> store_unavailable() { return backend_.unavailable_reason(); }

  // Cluster mode (cluster_calls.cpp), from the cluster's thread: each is posted to the loop and
  // returns at once (false when the loop is gone or stopping).
  bool adopt(std::vector<ClaimedRow> rows);
  bool cancel_requested(std::vector<std::uint64_t> ids);
  bool lease_lost();
  // Another instance asks something of task `id` (RemoteRequest): applied on the loop, then
  // `answer` is called there with "ok", or why not ("finished", "gone": not held here, or
  // "refused") and a message. False (and no answer) when the loop is gone or stopping.
  bool remote_request(RemoteRequest::Kind kind, std::uint64_t id, std::int64_t value,
                      std::function<void(std::string code, std::string message)> answer);
  // Events another instance forwarded: published to this one's streams as its own are. A
  // "finished" one also answers this instance's waits for that task. Any thread.
  void publish_remote(std::vector<std::string> events);
  // GET /api/instances: {"cluster": bool, "instances": [...]}. HTTP threads.
  Result<nlohmann::json> instances();
  // Whether an event stream or a wait for another instance's task is open here (any thread):
  // the others forward their events while it is.
  bool has_subscribers() const {
    return events_.active() || (remote_waits_ && !remote_waits_->empty());
  }
  // Tasks running here, read by the cluster's heartbeat (any thread).
  std::size_t running() const { return running_.load(std::memory_order_relaxed); }

 private:
  // The record of the retained job `id` as a replayed submit of `spec_json`; nullopt when the
  // job is gone.
  std::optional<Result<Submission>> replay(std::uint64_t id, const nlohmann::json& spec_json);
  std::optional<Result<BatchSubmission>> replay_batch(std::uint64_t first, const std::string& key,
                                                      const std::vector<SubmitItem>& items);
  // Claims `key` for a new submit (nullopt: claimed; settle it with settle_key), or the id of the
  // job an earlier submit with it made (not claimed), or key_in_use while that one is under way.
  Result<std::optional<std::uint64_t>> claim_key(const std::string& key);
  // A claimed key: forgotten (`id` 0: committed, or nothing made), or kept with the id of the job
  // whose commit is outstanding (a retry finds it). Nothing for an empty key.
  void settle_key(const std::string& key, std::uint64_t id);
  template <class T>
  Result<T> on_loop(std::function<Result<T>(JobService&)> fn);
  // Deletes under way: a second delete of a job while the first is being committed finds it
  // gone (no second erase, no second event). Claims last as long as the object.
  class DeleteClaims {
   public:
    explicit DeleteClaims(JobBridge& bridge) : bridge_(bridge) {}
    ~DeleteClaims();
    DeleteClaims(const DeleteClaims&) = delete;
    DeleteClaims& operator=(const DeleteClaims&) = delete;
    // False when another delete of `id` is under way.
    bool claim(std::uint64_t id);

   private:
    JobBridge& bridge_;
    std::vector<std::uint64_t> ids_;
  };
  // What follow() did on the loop: ids of jobs that are not live (their output comes from the
  // store), and ids that name nothing.
  struct FollowRegistered {
    std::vector<JobRef> stored;
    std::vector<std::string> unknown;
  };
  // What delete_chunk() did on the loop, per job: nullopt when it is not live.
  using DeleteOutcomes = std::vector<std::optional<Result<Removal>>>;
  // bulk_actions.cpp: one chunk of jobs; `states` (same order), when known from a list, lets a
  // delete of a job that is not live skip reading it back.
  Result<Done> cancel_chunk(std::span<const std::uint64_t> ids, BulkResult& out);
  Result<Done> delete_chunk(std::span<const std::uint64_t> ids,
                            std::span<const std::optional<JobState>> states, BulkResult& out);
  // A schedule's record as the API shows it, its last run's state filled in from the store.
  nlohmann::json schedule_record(ScheduleView view);
  // Waits for `ticket`'s commit: unavailable when the store does not commit in time.
  Result<Done> committed_or_unavailable(WriteTicket ticket);
  OutputFollower output_frames(const std::shared_ptr<SseChannel>& channel) const;
  // The job from the store, on any thread: nullopt when it is not stored (or, `finished_only`,
  // not stored as finished); a finished job's body is cached.
  std::optional<Result<JsonDoc>> from_store(const JobRef& ref, bool finished_only);
  // Cluster mode: a request about `ref`'s task sent to the instance holding it (ask_owner), and
  // the task as stored once applied; nullopt when no instance holds it live, or not a cluster.
  // HTTP threads.
  std::optional<Result<nlohmann::json>> through_owner(RemoteRequest::Kind kind, const JobRef& ref,
                                                      std::int64_t value);
  // Answers a wait for another instance's task if the store has it finished (or gone): true
  // when answered. Any thread but the loop's.
  bool settle_remote(JobWait& wait);
  // Loop thread: registers `wait`'s watch, or answers it.
  void watch_on_loop(const std::shared_ptr<JobWait>& wait);

  BridgeOptions options_;
  JobBackend& backend_;
  FinishedJobCache& cache_;
  StoredJobs stored_;
  EventHub events_;
  EventStreams streams_;
  std::uint64_t follow_keys_ = 0;  // loop thread only
  std::mutex deleting_mu_;
  std::unordered_set<std::uint64_t> deleting_;
  // The loop thread's client of the exec supervisor, created before the service (restored jobs
  // may run exec steps) and destroyed after it, which kills every exec process left. Created,
  // used and destroyed on the loop thread only.
  std::unique_ptr<exec::SupervisorClient> exec_;
  std::unique_ptr<JobService> service_;  // created, used and destroyed on the loop thread only
  // Created after the service, destroyed before it; on the loop thread only.
  std::unique_ptr<PeriodicSchedules> schedules_;
  LoopThread loop_;
  std::atomic<std::uint64_t> submitted_{0};
  // Idempotency keys of submits not yet committed: 0 while on the loop, then the job's id (kept
  // when the commit wait ran out, until the store finds the key).
  std::mutex keys_mu_;
  std::unordered_map<std::string, std::uint64_t> keys_in_flight_;
  std::array<std::atomic<std::uint64_t>, kAllJobStates.size()> finished_total_{};
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> running_{0};                 // the service's, copied at each transition
  std::unique_ptr<RemoteWaits<JobWait>> remote_waits_;  // cluster mode only
  std::chrono::steady_clock::time_point started_at_;
};

// on_loop is defined in job_bridge.cpp, for these results of the calls in other files too.
extern template Result<JobBridge::FollowRegistered> JobBridge::on_loop(
    std::function<Result<JobBridge::FollowRegistered>(JobService&)>);
extern template Result<JobBridge::DeleteOutcomes> JobBridge::on_loop(
    std::function<Result<JobBridge::DeleteOutcomes>(JobService&)>);
extern template Result<std::vector<BulkOutcome>> JobBridge::on_loop(
    std::function<Result<std::vector<BulkOutcome>>(JobService&)>);
extern template Result<std::pair<ScheduleView, WriteTicket>> JobBridge::on_loop(
    std::function<Result<std::pair<ScheduleView, WriteTicket>>(JobService&)>);
extern template Result<std::vector<ScheduleView>> JobBridge::on_loop(
    std::function<Result<std::vector<ScheduleView>>(JobService&)>);
extern template Result<std::pair<nlohmann::json, WriteTicket>> JobBridge::on_loop(
    std::function<Result<std::pair<nlohmann::json, WriteTicket>>(JobService&)>);
extern template Result<Submitted> JobBridge::on_loop(std::function<Result<Submitted>(JobService&)>);

}  // namespace uasyncd::server
