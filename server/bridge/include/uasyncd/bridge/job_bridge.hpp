// The thread boundary of the daemon, in one place. HTTP threads call JobBridge; it answers from
// the store and the read cache on the calling thread where it can, and hands everything that
// needs a live job to the loop thread, which owns the JobService and every live job.
//
//   thread        | may touch
//   --------------+------------------------------------------------------------------------
//   HTTP threads  | JobBridge's public calls; the backend's reads, erase and commit waits;
//                 | FinishedJobCache; EventHub::subscribe; a finish watch it registered; its own
//                 | SseChannel's reader side
//   loop thread   | JobService and the live jobs (inside LoopThread::call/post only); the
//                 | backend's writes; EventHub::publish; SseChannel's producer side;
//                 | finish watch callbacks
//   writer thread | the SQLite file (inside the backend); FinishedJobCache::erase of jobs
//                 | retention removed (BackendOptions::on_removed)
//
// Per call (all from an HTTP thread):
//   submit         with an Idempotency-Key: keys_in_flight_, then the store's key index (a
//                  retained job: its record, no loop); loop: JobService::submit; then waits (on
//                  its thread) for the insert's commit
//   list, counts   the backend's readers only (no loop)
//   get            cache, else the store (finished jobs: cached), else the loop
//   watch_finish   loop: register a callback for the job's end; the store if the job is not live
//   cancel_watch   loop (posted): forget a watch whose waiter has gone
//   wait           watch_finish, then block on it; cancel_watch when it times out (timeout 0:
//                  just get)
//   cancel, set_timeout, output, follow_output
//                  loop first; StoredJobs (the store) when the job is not live
//   remove         loop first, else StoredJobs; waits for the erase's commit, then drops the
//                  cached body, then answers
//   subscribe_events  EventHub (no loop)
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
#include <string>
#include <unordered_map>

#include "uasyncd/bridge/event_hub.hpp"
#include "uasyncd/bridge/finished_job_cache.hpp"
#include "uasyncd/bridge/loop_thread.hpp"
#include "uasyncd/bridge/sse_channel.hpp"
#include "uasyncd/exec/supervisor_client.hpp"
#include "uasyncd/service/job_service.hpp"
#include "uasyncd/service/stored_jobs.hpp"

namespace uasyncd::server {

struct BridgeOptions {
  ServiceOptions service;  // its publish/events_wanted are set by the bridge
  bool virtual_clock = false;
  std::chrono::milliseconds loop_reply_timeout{5000};
  // The exec supervisor of the loop's exec steps (exec/supervisor_client.hpp); none: exec steps
  // fail ("exec steps need the exec supervisor"). Started with the loop when service.allow_exec.
  std::optional<exec::SupervisorOptions> exec_supervisor;
};

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

struct DaemonStats {
  StateCounts counts{};
  std::uint64_t retained = 0;         // jobs the store holds
  std::uint64_t submitted_total = 0;  // accepted since start
  StateCounts finished_total{};       // jobs that reached each final state since start
  double loop_lag_seconds = 0;
  double uptime_seconds = 0;
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
  Result<ListPage> list(const ListQuery& query);
  Result<JsonDoc> get(const JobRef& ref);
  // Blocks this thread until the job has finished or `timeout` has passed (built on the two
  // calls below; its watch is cancelled when it times out).
  Result<Waited> wait(const JobRef& ref, std::chrono::milliseconds timeout);
  // The non-blocking form: a finished job's record at once, else `on_finish` is registered and
  // called once, on the loop thread, with the record (shared by every watch of the job) when the
  // job ends, unless cancel_watch comes first. A waiter that goes away must cancel its watch.
  Result<FinishWatch> watch_finish(const JobRef& ref,
                                   std::function<void(const JobBody&)> on_finish);
  void cancel_watch(std::uint64_t job_id, std::uint64_t watch);
  Result<nlohmann::json> cancel(const JobRef& ref);
  Result<nlohmann::json> set_timeout(const JobRef& ref, double timeout_s);
  Result<nlohmann::json> remove(const JobRef& ref);
  Result<nlohmann::json> output(const JobRef& ref);
  // Fills `channel` with the output so far, each chunk as it comes, then an end item, and closes
  // it. Items are SSE frames ("output" and "end" events).
  Result<Done> follow_output(const JobRef& ref, std::shared_ptr<SseChannel> channel);
  // `channel` gets every job transition (JSON items) until it is abandoned or the bridge stops.
  void subscribe_events(std::shared_ptr<SseChannel> channel);
  DaemonStats stats() const;

 private:
  // The record of the retained job `id` as a replayed submit of `spec_json`; nullopt when the
  // job is gone.
  std::optional<Result<Submission>> replay(std::uint64_t id, const nlohmann::json& spec_json);
  template <class T>
  Result<T> on_loop(std::function<Result<T>(JobService&)> fn);

  BridgeOptions options_;
  JobBackend& backend_;
  FinishedJobCache& cache_;
  StoredJobs stored_;
  EventHub events_;
  // The loop thread's client of the exec supervisor, created before the service (restored jobs
  // may run exec steps) and destroyed after it, which kills every exec process left. Created,
  // used and destroyed on the loop thread only.
  std::unique_ptr<exec::SupervisorClient> exec_;
  std::unique_ptr<JobService> service_;  // created, used and destroyed on the loop thread only
  LoopThread loop_;
  std::atomic<std::uint64_t> submitted_{0};
  // Idempotency keys of submits not yet committed: 0 while on the loop, then the job's id (kept
  // when the commit wait ran out, until the store finds the key).
  std::mutex keys_mu_;
  std::unordered_map<std::string, std::uint64_t> keys_in_flight_;
  std::array<std::atomic<std::uint64_t>, kAllJobStates.size()> finished_total_{};
  std::atomic<bool> stopping_{false};
  std::chrono::steady_clock::time_point started_at_;
};

}  // namespace uasyncd::server
