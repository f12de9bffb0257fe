// Cluster mode's membership, leases and messages: one instance of several daemons sharing one
// PostgreSQL database. It registers this daemon as an instance (uasyncd_instances), renews its
// lease every ttl/5, reaps instances whose lease expired (their live tasks become unowned and
// claimable), claims unowned tasks for this instance when asked, and delivers the messages other
// instances send (NOTIFY uasyncd_control: cancel a task this instance runs; uasyncd_wake: tasks
// became claimable).
//
// No cluster protocol of its own: every fact is a row, every message a NOTIFY sent outside any
// write transaction (a NOTIFY inside one serialises every commit of the database).
//
// Threads: one thread of its own, with one connection; the public calls are thread-safe. The
// ClusterEvents callbacks run on that thread and must not block (they post to the loop).
// Lifetime: start() to stop() (or the destructor); the callbacks' targets must outlive it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "uasyncd/store/job_row.hpp"

namespace uasyncd::server {

// The advisory lock space of instance locks: pg_advisory_lock(kPgInstanceLockSpace, id) is held
// by a live instance's cluster connection, so the others see at once that a killed one is gone.
inline constexpr std::int32_t kPgInstanceLockSpace = 0x75617379;  // "uasy"
// The space of the transaction locks claims of one named queue take (its limit holds for the
// whole cluster): pg_advisory_xact_lock(kPgQueueLockSpace, hashtext(queue)).
inline constexpr std::int32_t kPgQueueLockSpace = 0x75617371;  // "uasq"

struct ClusterOptions {
  std::string url;   // libpq connection string or URI
  std::string name;  // shown in GET /api/instances
  std::chrono::milliseconds lease_ttl{10'000};
};

// A row of uasyncd_instances, as GET /api/instances shows it.
struct InstanceInfo {
  std::int64_t id = 0;
  std::string name;
  std::int64_t started_ms = 0;
  double heartbeat_age_s = 0;  // now() - heartbeat, on the database's clock
  std::int64_t running = 0;
  bool stopping = false;
};

// A claimed row: the job's stored row and what the cluster adds to it.
struct ClaimedRow {
  JobRow row;
  bool cancel_requested = false;  // someone asked to cancel it (a running orphan ends cancelled)
};

// A request another instance sent this one about a task this one holds (a POST sent there):
// answered with PgCluster::answer_request once applied or refused.
struct RemoteRequest {
  enum class Kind {
    timeout,      // end the task timed_out `value` ms from when this is applied
    cancel_step,  // cancel its step `value` (the index in tID.INDEX)
  };
  Kind kind = Kind::timeout;
  std::uint64_t id = 0;
  std::int64_t value = 0;
  std::int64_t from = 0;    // the asking instance
  std::uint64_t nonce = 0;  // names the answer
};

struct ClusterEvents {
  // Rows now owned by this instance (owner = instance_id()): orphans of dead instances
  // (running), due scheduled rows, and pending rows of queues with room.
  std::function<void(std::vector<ClaimedRow> rows)> claimed;
  // Ids of tasks this instance owns that someone asked to cancel (a NOTIFY, or the durable
  // request seen at each heartbeat while the row is live and owned here: the same id comes more
  // than once until the task ends).
  std::function<void(std::vector<std::uint64_t> ids)> cancel_requested;
  // The lease is lost (not renewed in time, or reaped): stop every running task and forget
  // every live one without writing it; another instance owns them now. A new instance id
  // follows (instance_id() changes) once the database answers again.
  std::function<void()> lease_lost;
  // How many tasks run here and how many event streams are open (written at each heartbeat).
  std::function<std::size_t()> running;
  std::function<std::size_t()> watchers;
  // Events other instances forwarded (forward_event): each a JSON text, in their order.
  std::function<void(std::vector<std::string> events)> remote_events;
  // Another instance asks something of a task this one holds: answer_request() it.
  std::function<void(RemoteRequest request)> request_received;
};

class PgCluster {
 public:
  // Connects, registers the instance, takes its lock, listens, reaps once, then starts the
  // thread. Throws StoreError (without the password) if the database cannot be used.
  static std::unique_ptr<PgCluster> start(const ClusterOptions& options, ClusterEvents events);
  ~PgCluster();  // stop()
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // This instance's id now (changes after a lease is lost and a new one is registered); 0 while
  // it has none. Any thread.
  std::int64_t instance_id() const { return id_.load(std::memory_order_acquire); }
  // The instance id as a shared atomic, for the store's fenced writes.
  const std::atomic<std::int64_t>& instance_id_ref() const { return id_; }

  // The room there is now: up to `free` pending rows per queue (by queue name) may be claimed,
  // with orphans and due scheduled rows. The first call allows claims; later ones ask for a
  // claim only where the room grew beyond what the last claim left. Coalesced: many asks
  // before the thread runs make one claim (at most one per 20 ms). The room is spent by what
  // claims take until the next call (a wake from another instance claims only with room left).
  // Any thread; nothing after stop().
  void want_claim(std::map<std::string, std::size_t> free);
  // Cancels a task this instance does not hold. An owned live row: the durable request
  // (cancel_requested_ms = now, kept), then, after that commit, NOTIFY uasyncd_control
  // "OWNER cancel ID" to its owner (sent). An unowned scheduled or pending row: cancelled at
  // once by one conditional UPDATE (state cancelled, finished_ms now, error CancelledError
  // "cancelled while pending" or "... while scheduled"; a claim racing it takes the row lock
  // first or skips the row). An unowned running row (an orphan awaiting a claim): the durable
  // request only (sent, owner 0): its claimer gets it with cancel_requested. Else not_live
  // (finished, or no such row). One conditional UPDATE decides every case, so a claim or a
  // release racing it cannot make it miss the row. HTTP threads: runs on a connection of a small
  // pool of its own; throws StoreError when the database fails (or after stop()).
  struct CancelOutcome {
    enum class Kind { sent, cancelled, not_live } kind = Kind::not_live;
    std::int64_t owner = 0;  // sent: the owning instance
  };
  CancelOutcome request_cancel(std::uint64_t id);
  // Asks the instance that holds live task `id` to apply a request (`kind`, `value`: see
  // RemoteRequest) and waits up to `wait` for its answer (NOTIFY uasyncd_control each way):
  // applied, or refused with the owner's code ("finished": the task ended meanwhile; "gone": it
  // no longer holds it; "refused": anything else) and message. unowned: the row is live but no
  // instance holds it yet (released, parked, or an orphan awaiting its claimer); not_live:
  // finished or no such row. Nothing is stored: what the owner applied ends with it (a cancel
  // of a whole task is request_cancel, which is). HTTP threads (the pool); throws StoreError
  // when the database fails, this instance has no lease, or after stop().
  struct OwnerOutcome {
    enum class Kind { applied, refused, unowned, not_live, no_answer } kind = Kind::not_live;
    std::int64_t owner = 0;
    std::string code;  // refused: why
    std::string message;
  };
  OwnerOutcome ask_owner(RemoteRequest::Kind kind, std::uint64_t id, std::int64_t value,
                         std::chrono::milliseconds wait);
  // Answers a RemoteRequest: `code` "ok" when applied, else why not (a lower-case word), with a
  // message for a person. Sent by the thread, soon. Any thread; never blocks.
  void answer_request(const RemoteRequest& request, std::string code, std::string message);
  // Every instance row (live, or expired and not reaped yet), oldest first. Any thread (the
  // pool's connections); throws StoreError when the database fails (or after stop()).
  std::vector<InstanceInfo> instances();
  // Sends a task event (a JSON text without a newline) to the other instances' event streams,
  // batched into NOTIFYs of at most ~8 kB sent by the thread at once. Worth calling only while
  // others_watch(). Any thread; never blocks (past 4 MiB unsent, events are dropped and
  // counted).
  void forward_event(std::string event);
  // Whether another instance has an event stream open (read at each heartbeat; set at once when
  // one opens its first). Any thread.
  bool others_watch() const;
  // This instance's first event stream opened: tells the others at once to forward theirs.
  void watching();
  // Age of the last successful heartbeat (the lease's age), for /metrics. Any thread.
  std::chrono::milliseconds lease_age() const;
  // Marks the instance stopping (it claims nothing more; its row says so). Heartbeats go on
  // until stop(). Any thread; a database failure is logged, not thrown.
  void stopping();
  // Ends the thread, then deletes the instance's row and leaves its live rows unowned at once
  // (a running one, which the daemon's shutdown should have finished, interrupted now), and
  // wakes the others. Never throws (a failure is logged; the row then expires). The owner's
  // thread, with no other call running or to come but the destructor.
  void stop();

 private:
  PgCluster() = default;
  std::atomic<std::int64_t> id_{0};
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace uasyncd::server
