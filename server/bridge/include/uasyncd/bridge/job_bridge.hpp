// The thread boundary of the daemon, in one place. HTTP threads call JobBridge; it answers from
// the store and the read cache on the calling thread where it can, and hands everything that
// needs a live job to the loop thread, which owns the JobService and every live job.
//
//   thread        | may touch
//   --------------+------------------------------------------------------------------------
//   HTTP threads  | JobBridge's public calls; the backend's reads, erase and commit waits;
//                 | FinishedJobCache; EventHub::subscribe; its own SseChannel's reader side
//   loop thread   | JobService and the live jobs (inside LoopThread::call/post only); the
//                 | backend's writes; EventHub::publish; SseChannel's producer side; a JobWait's
//                 | watch, and its answer (the backend's reads when the job has just left RAM)
//   writer thread | the SQLite file (inside the backend); FinishedJobCache::erase of jobs
//                 | retention removed (BackendOptions::on_removed)
//
// Per call (all from an HTTP thread):
//   submit         loop: JobService::submit; then waits (on its thread) for the insert's commit
//   list, counts   the backend's readers only (no loop)
//   get            cache, else the store (finished jobs: cached), else the loop
//   start_wait     cache or store (a finished job: answered at once), else posted to the loop,
//                  which registers a watch and answers when the job ends: no thread blocks
//   end_wait       posted to the loop: the watch is cancelled, and answered with the job as it
//                  is when the poll's time is up
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

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "uasyncd/bridge/event_hub.hpp"
#include "uasyncd/bridge/finished_job_cache.hpp"
#include "uasyncd/bridge/loop_thread.hpp"
#include "uasyncd/bridge/sse_channel.hpp"
#include "uasyncd/service/job_service.hpp"
#include "uasyncd/service/stored_jobs.hpp"

namespace uasyncd::server {

struct BridgeOptions {
  ServiceOptions service;  // its publish/events_wanted are set by the bridge
  bool virtual_clock = false;
  std::chrono::milliseconds loop_reply_timeout{5000};
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

 private:
  const JobRef ref_;
  Answer answer_;
  std::atomic<bool> answered_{false};
};

struct DaemonStats {
  StateCounts counts{};
  std::uint64_t retained = 0;         // jobs the store holds
  std::uint64_t submitted_total = 0;  // accepted since start
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

  Result<nlohmann::json> submit(JobSpec spec, nlohmann::json spec_json);
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
  Result<nlohmann::json> output(const JobRef& ref);
  // Fills `channel` with the output so far, each chunk as it comes, then an end item, and closes
  // it. Items are SSE frames ("output" and "end" events).
  Result<Done> follow_output(const JobRef& ref, std::shared_ptr<SseChannel> channel);
  // `channel` gets every job transition (JSON items) until it is abandoned or the bridge stops.
  void subscribe_events(std::shared_ptr<SseChannel> channel);
  DaemonStats stats() const;

 private:
  template <class T>
  Result<T> on_loop(std::function<Result<T>(JobService&)> fn);
  // The job from the store, on any thread: nullopt when it is not stored (or, `finished_only`,
  // not stored as finished); a finished job's body is cached.
  std::optional<Result<JsonDoc>> from_store(const JobRef& ref, bool finished_only);
  // Loop thread: registers `wait`'s watch, or answers it.
  void watch_on_loop(const std::shared_ptr<JobWait>& wait);

  BridgeOptions options_;
  JobBackend& backend_;
  FinishedJobCache& cache_;
  StoredJobs stored_;
  EventHub events_;
  std::unique_ptr<JobService> service_;  // created, used and destroyed on the loop thread only
  LoopThread loop_;
  std::atomic<std::uint64_t> submitted_{0};
  std::atomic<bool> stopping_{false};
  std::chrono::steady_clock::time_point started_at_;
};

}  // namespace uasyncd::server
