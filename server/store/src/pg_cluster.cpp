#include "uasyncd/store/pg_cluster.hpp"

#include <poll.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>

#include "cluster_requests.hpp"
#include "pg_conn.hpp"
#include "pg_pool.hpp"
#include "pg_schema.hpp"
#include "pg_store.hpp"
#include "uasyncd/store/store_error.hpp"

namespace uasyncd::server {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The database's clock in ms since the epoch: every time the cluster compares is the database's,
// so the daemons' clocks may disagree. clock_timestamp(), not now(): a transaction's start may be
// long before its statement.
#define UASYNCD_NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
#define UASYNCD_LIVE "('scheduled', 'pending', 'running')"
#define UASYNCD_EXPIRES "clock_timestamp() + $2::float8 * interval '1 millisecond'"

constexpr const char* kWakeChannel = "uasyncd_wake";
constexpr const char* kControlChannel = "uasyncd_control";
constexpr const char* kEventsChannel = "uasyncd_events";
// A control message to every instance: an event stream opened somewhere; forward events.
constexpr std::string_view kWatchPayload = "0 watch";
// NOTIFY payloads must stay under 8000 bytes: events are packed up to this many.
constexpr std::size_t kEventsPayload = 7800;
// Unsent events kept at most (the database is slow or away): past it new ones are dropped.
constexpr std::size_t kOutboxBytes = 4u << 20;
// A wake whose rows anyone may take whatever its queues' room (running orphans, scheduled rows);
// any other payload is pending rows released, worth a claim only with room.
constexpr std::string_view kOrphansPayload = "orphans";

// At most one claim per kClaimGap (a burst of asks and wakes makes one); one every kClaimPeriod
// anyway (scheduled rows fall due without a message; a lost wake is caught up).
constexpr milliseconds kClaimGap{20};
constexpr milliseconds kClaimPeriod{1000};
// The wait before trying again after the database failed (at most a heartbeat interval).
constexpr milliseconds kRetryGap{250};
// The HTTP threads' connections (cancels, listings): few and short statements.
constexpr std::size_t kPoolSize = 2;
// Running orphans and due scheduled rows taken per claim: a claim stays one short transaction;
// the rest come with the next one.
constexpr std::int64_t kClaimLimit = 1000;

// The statement a claim of one kind of row runs: $1 the instance, $2 the limit. The rows are
// locked with SKIP LOCKED, so claims of several instances never wait for each other or take a
// row twice; the instance's row must still exist (a reaped instance claims nothing).
std::string claim_sql(const char* which, const char* order, const char* limit = "$2") {
  return std::string(
             "UPDATE uasyncd_tasks SET owner = $1 WHERE seq IN (SELECT seq FROM uasyncd_tasks "
             "WHERE ") +
         which + " AND owner IS NULL ORDER BY " + order + " LIMIT " + limit +
         " FOR UPDATE SKIP LOCKED) "
         "AND EXISTS (SELECT 1 FROM uasyncd_instances WHERE id = $1) RETURNING " +
         kPgRowColumns + ", queue, priority, cancel_requested_ms IS NOT NULL";
}

// The room a named queue ($3) has in the whole cluster, at most $2: its stored limit (a PUT
// /api/queues, or a --queue flag at some instance's start) less the rows of it that instances
// hold (claimed or running); none while it is stored paused; $2 when it has no limit.
constexpr const char* kClusterRoomSql =
    "greatest(0, least($2, coalesce((SELECT CASE WHEN (q.b->>'paused')::boolean THEN 0 "
    "WHEN coalesce((q.b->>'max_running')::bigint, 0) = 0 THEN $2 "
    "ELSE (q.b->>'max_running')::bigint - (SELECT count(*) FROM uasyncd_tasks h WHERE "
    "h.queue = $3 AND h.owner IS NOT NULL AND h.state IN ('pending', 'running')) END "
    "FROM (SELECT convert_from(body, 'UTF8')::jsonb AS b FROM uasyncd_settings "
    "WHERE kind = 'queue' AND name = convert_to($3, 'UTF8')) q), $2)))";

// Deletes the dead instances and frees their live rows, in one statement: $1 me, $2 the
// heartbeat age beyond which an unlocked instance is dead (ms), $3 the lock space. Dead: its
// lease expired on the database's clock, or its session (which holds its advisory lock) is gone
// and it has not renewed for two intervals (a killed daemon is reaped in seconds, not a ttl; a
// registration is not reaped between its insert and its lock) while the server has been up for
// two intervals (a restarted server holds no session's lock: each instance gets that long to
// reconnect and lock again; a restart of 3 s with a ttl of 10 s removed two of three instances,
// which then stopped their running tasks). A two-int4 advisory lock shows in
// pg_locks as classid = first key, objid = second key, objsubid = 2. Rows another transaction
// holds are skipped, never waited for: a reaper that waits past its own lease fences itself (a
// heartbeat's row is locked by it; a dead one's by the reaper already removing it).
constexpr const char* kReapDeadSql =
    "WITH dead AS (DELETE FROM uasyncd_instances WHERE id IN (SELECT i.id FROM "
    "uasyncd_instances i WHERE i.id <> $1 AND "
    "(i.expires_at < clock_timestamp() OR (i.heartbeat_ms < " UASYNCD_NOW_MS
    " - $2 AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND l.classid = $3::oid AND l.objid = i.id::oid AND l.objsubid = 2 AND l.granted) "
    "AND pg_postmaster_start_time() < clock_timestamp() - $2 * interval '1 millisecond')) "
    "FOR UPDATE SKIP LOCKED) RETURNING id, heartbeat_ms), "
    "freed AS (UPDATE uasyncd_tasks t SET owner = NULL, interrupted_ms = CASE WHEN t.state = "
    "'running' THEN d.heartbeat_ms ELSE t.interrupted_ms END FROM dead d WHERE t.owner = d.id "
    "AND t.state IN " UASYNCD_LIVE
    " RETURNING t.seq) "
    "SELECT (SELECT count(*) FROM dead), (SELECT count(*) FROM freed)";
// Live rows whose owner has no row at all (deleted by hand, or an instance removed without its
// rows): nobody will ever write them, so they become claimable. A running one is interrupted now.
constexpr const char* kReapOwnerlessSql =
    "UPDATE uasyncd_tasks SET owner = NULL, interrupted_ms = CASE WHEN state = 'running' "
    "THEN " UASYNCD_NOW_MS
    " ELSE interrupted_ms END WHERE seq IN (SELECT t.seq FROM uasyncd_tasks t WHERE t.owner IS "
    "NOT NULL AND t.state IN " UASYNCD_LIVE
    " AND NOT EXISTS (SELECT 1 FROM uasyncd_instances i WHERE i.id = t.owner) "
    "FOR UPDATE SKIP LOCKED)";

// One statement for every case of a cancel, so a claim or a release racing it cannot make it
// miss the row: the row lock orders them, and each case is decided on the row as it is then. An
// unowned pending or scheduled row is cancelled at once (as the service cancels one it holds);
// any other live row gets the sticky request. $1 the task, $2.. the error's type and messages.
constexpr const char* kCancelSql =
    "UPDATE uasyncd_tasks SET "
    "state = CASE WHEN owner IS NULL AND state <> 'running' THEN 'cancelled' ELSE state END, "
    "finished_ms = CASE WHEN owner IS NULL AND state <> 'running' THEN " UASYNCD_NOW_MS
    " ELSE finished_ms END, "
    "error_type = CASE WHEN owner IS NULL AND state <> 'running' THEN $2 ELSE error_type END, "
    "error_message = CASE WHEN owner IS NOT NULL OR state = 'running' THEN error_message "
    "WHEN state = 'pending' THEN $3 ELSE $4 END, "
    "cancel_requested_ms = CASE WHEN owner IS NULL AND state <> 'running' "
    "THEN cancel_requested_ms ELSE coalesce(cancel_requested_ms, " UASYNCD_NOW_MS
    ") END "
    "WHERE seq = $1 AND state IN " UASYNCD_LIVE " RETURNING state, owner";

// A bool column in binary format: one byte.
bool is_true(const pg::Result& r, int row, int col) {
  return r.bytes(row, col) == std::string(1, '\1');
}

// "OWNER cancel ID" (the control message), or nothing when the payload is something else.
struct ControlCancel {
  std::int64_t owner = 0;
  std::uint64_t id = 0;
};
std::optional<ControlCancel> parse_cancel(std::string_view payload) {
  ControlCancel c;
  const char* p = payload.data();
  const char* end = p + payload.size();
  auto [after_owner, e1] = std::from_chars(p, end, c.owner);
  constexpr std::string_view kWord = " cancel ";
  if (e1 != std::errc() ||
      std::string_view(after_owner, static_cast<std::size_t>(end - after_owner))
              .substr(0, kWord.size()) != kWord) {
    return std::nullopt;
  }
  auto [after_id, e2] = std::from_chars(after_owner + kWord.size(), end, c.id);
  if (e2 != std::errc() || after_id != end) return std::nullopt;
  return c;
}

std::int64_t steady_ns(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

// Everything but the id. Its functions and the fields marked "thread" are the cluster thread's
// alone (and the starting thread's before it starts, the stopping thread's after it ends), but
// for those marked "any thread".
struct PgCluster::State {
  State(const ClusterOptions& options, ClusterEvents events, std::atomic<std::int64_t>& id);
  ~State();
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  // Any thread.
  void signal();
  void ask_stop();
  bool any_room();

  // The thread (or the starting/stopping thread while there is none).
  void listen();
  void register_instance();
  void reap();
  void retire(std::int64_t me);
  void run();
  bool take_asks();
  void turn();
  void recover();
  void check_trust();
  void lose_lease(const char* why);
  void heartbeat();
  void claim();
  void drain();
  void notify_wake(std::string_view payload);
  void send_events();
  // Any thread: queues an answer to another instance's request for the thread to send.
  void answer(const RemoteRequest& request, std::string code, std::string message);
  void wait();
  std::vector<pg::Statement> claim_statements(std::int64_t me,
                                              const std::map<std::string, std::size_t>& free);

  const ClusterOptions options;
  const ClusterEvents events;
  const milliseconds interval;  // between heartbeats: ttl/5
  const milliseconds trust;     // how long a heartbeat's start is trusted: ttl - 1 s
  std::atomic<std::int64_t>& id;
  pg::Connection conn;  // thread
  pg::Pool pool;        // any thread
  int wake_fd = -1;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::atomic<std::int64_t> heartbeat_ns{0};  // steady clock at the last good heartbeat's start

  std::mutex m_;                             // guards the asks below
  std::map<std::string, std::size_t> free_;  // the latest room per queue, less what was claimed
  bool claim_asked_ = false;
  bool claims_allowed_ = false;  // the first ask: the daemon can take claimed rows from now on
  bool stop_asked_ = false;
  std::vector<std::string> answers_out_;  // answers to other instances' requests, to send
  std::vector<std::string> outbox_;       // events to forward
  std::size_t outbox_bytes_ = 0;
  std::uint64_t events_dropped_ = 0;
  bool announce_watch_ = false;
  std::atomic<bool> others_watch{false};

  // The answers this instance's requests wait for (ask_owner), by nonce: any thread.
  std::mutex answers_mu_;
  std::condition_variable answers_cv_;
  std::map<std::uint64_t, std::optional<RequestAnswer>> awaited_;
  std::atomic<std::uint64_t> next_nonce_{1};

  // thread
  Clock::time_point trusted_until_{};
  Clock::time_point next_heartbeat_{};
  Clock::time_point next_claim_{};  // the periodic claim
  Clock::time_point last_claim_{};
  Clock::time_point retry_at_ = Clock::time_point::max();  // after a failed turn
  bool claim_due_ = false;
  // When an instance last said it opened an event stream: its heartbeat may not show it yet.
  Clock::time_point watch_heard_{};
};

PgCluster::State::State(const ClusterOptions& o, ClusterEvents e, std::atomic<std::int64_t>& i)
    : options(o),
      events(std::move(e)),
      interval(std::max(milliseconds(1), o.lease_ttl / 5)),
      trust(o.lease_ttl >= std::chrono::seconds(2) ? o.lease_ttl - std::chrono::seconds(1)
                                                   : o.lease_ttl - o.lease_ttl / 2),
      id(i),
      conn(o.url),
      pool(o.url, kPoolSize) {
  wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) throw StoreError(std::string("cluster: eventfd: ") + std::strerror(errno));
}

PgCluster::State::~State() {
  if (thread.joinable()) {
    ask_stop();
    thread.join();
  }
  if (wake_fd >= 0) ::close(wake_fd);
}

void PgCluster::State::signal() {
  const std::uint64_t one = 1;
  const ssize_t n = ::write(wake_fd, &one, sizeof one);
  (void)n;  // full (2^64 - 2 wakes pending) or not: the thread wakes either way
}

void PgCluster::State::ask_stop() {
  {
    std::lock_guard lock(m_);
    stop_asked_ = true;
  }
  signal();
}

bool PgCluster::State::any_room() {
  std::lock_guard lock(m_);
  return std::any_of(free_.begin(), free_.end(), [](const auto& q) { return q.second > 0; });
}

// What each session of the cluster connection needs. A statement that waits (a row or a lock
// held by a stuck transaction) is given up after a heartbeat interval (at least a second), so
// the thread comes back to judge its lease instead of waiting past it.
void PgCluster::State::listen() {
  const auto limit = std::max(interval, milliseconds(1000)).count();
  conn.run_script(("SET statement_timeout = " + std::to_string(limit) +
                   "; LISTEN uasyncd_wake; LISTEN uasyncd_control; LISTEN uasyncd_events")
                      .c_str(),
                  "cannot listen");
}

// A new instance: its row and its lock in one statement (one round trip; a crash between them
// leaves a row the reapers remove two intervals later).
void PgCluster::State::register_instance() {
  const Clock::time_point started = Clock::now();
  const pg::Result r = conn.run(
      "WITH i AS (INSERT INTO uasyncd_instances(name, started_ms, heartbeat_ms, expires_at, "
      "stopping) VALUES ($1, " UASYNCD_NOW_MS ", " UASYNCD_NOW_MS ", " UASYNCD_EXPIRES
      ", $4 <> 0) RETURNING id) SELECT id, pg_advisory_lock($3::int4, id::int4) FROM i",
      pg::Params()
          .text(options.name)
          .int8(options.lease_ttl.count())
          .int8(kPgInstanceLockSpace)
          .int8(stopping.load(std::memory_order_acquire) ? 1 : 0),
      "cannot register the instance");
  trusted_until_ = started + trust;
  next_heartbeat_ = started + interval;
  heartbeat_ns.store(steady_ns(started), std::memory_order_release);
  id.store(r.integer(0, 0), std::memory_order_release);
  spdlog::info("cluster: instance {} ({}) on {}", r.integer(0, 0), options.name, conn.where());
}

void PgCluster::State::reap() {
  const std::int64_t me = id.load(std::memory_order_acquire);
  if (me == 0) return;  // a reaper must not be among the dead it judges
  std::vector<pg::Statement> statements;
  statements.push_back(
      {kReapDeadSql, pg::Params().int8(me).int8(2 * interval.count()).int8(kPgInstanceLockSpace)});
  statements.push_back({kReapOwnerlessSql, pg::Params()});
  const std::vector<pg::Result> r = conn.run_together(statements, "cannot reap instances");
  const std::int64_t dead = r[0].integer(0, 0);
  const std::uint64_t freed = static_cast<std::uint64_t>(r[0].integer(0, 1)) + r[1].changed();
  if (dead > 0 || freed > 0) {
    spdlog::info("cluster: {} dead instances removed, {} tasks freed", dead, freed);
  }
  // After the commit, never inside it: a NOTIFY in a write transaction serialises every commit.
  if (freed > 0) notify_wake(kOrphansPayload);
}

// The outbox as NOTIFYs, each "INSTANCE\nEVENT\nEVENT...", all in one round trip (a transaction
// of NOTIFYs only: no row is written, nothing waits for a disk).
void PgCluster::State::send_events() {
  std::vector<std::string> events;
  std::vector<std::string> answers;
  bool announce = false;
  {
    std::lock_guard lock(m_);
    events.swap(outbox_);
    answers.swap(answers_out_);
    outbox_bytes_ = 0;
    announce = std::exchange(announce_watch_, false);
  }
  const std::int64_t me = id.load(std::memory_order_acquire);
  std::vector<pg::Statement> statements;
  for (const std::string& a : answers)
    statements.push_back({"SELECT pg_notify($1, $2)", pg::Params().text(kControlChannel).text(a)});
  if (announce) {
    statements.push_back(
        {"SELECT pg_notify($1, $2)", pg::Params().text(kControlChannel).text(kWatchPayload)});
  }
  const std::string head = std::to_string(me);
  std::string payload = head;
  const auto flush = [&] {
    if (payload.size() > head.size()) {
      statements.push_back(
          {"SELECT pg_notify($1, $2)", pg::Params().text(kEventsChannel).text(payload)});
    }
    payload = head;
  };
  for (const std::string& e : events) {
    if (e.size() + head.size() + 1 > kEventsPayload) continue;  // too big for one: dropped
    if (payload.size() + 1 + e.size() > kEventsPayload) flush();
    payload += '\n';
    payload += e;
  }
  flush();
  if (!statements.empty()) conn.run_together(statements, "cannot forward events");
}

void PgCluster::State::notify_wake(std::string_view payload) {
  conn.run("SELECT pg_notify($1, $2)", pg::Params().text(kWakeChannel).text(payload),
           "cannot notify");
}

// The instance's end: its row goes, and its live rows are left to the others at once (pending
// and scheduled ones as they are; a running one, which the daemon's shutdown should have
// finished, interrupted now).
void PgCluster::State::retire(std::int64_t me) {
  if (me == 0) return;
  const auto once = [&] {
    if (!conn.reconnect()) throw StoreError(conn.where() + ": the connection is lost");
    std::vector<pg::Statement> statements;
    statements.push_back({"DELETE FROM uasyncd_instances WHERE id = $1", pg::Params().int8(me)});
    statements.push_back(
        {"UPDATE uasyncd_tasks SET owner = NULL, interrupted_ms = CASE WHEN "
         "state = 'running' THEN " UASYNCD_NOW_MS
         " ELSE interrupted_ms END WHERE owner = $1 AND state IN " UASYNCD_LIVE,
         pg::Params().int8(me)});
    const std::vector<pg::Result> r = conn.run_together(statements, "cannot retire the instance");
    if (r[1].changed() > 0) notify_wake(kOrphansPayload);
  };
  try {
    try {
      once();
    } catch (const StoreError&) {
      if (conn.ok()) throw;
      once();  // the session was cut while idle (it learns so only now): once more on a new one
    }
  } catch (const StoreError& e) {
    // Its row expires with its lease; the others take its tasks then.
    spdlog::warn("cluster: instance {} left without removing its row: {}", me, e.what());
  }
}

void PgCluster::State::run() {
  while (!take_asks()) {
    try {
      turn();
      retry_at_ = Clock::time_point::max();
    } catch (const StoreError& e) {
      spdlog::warn("cluster: {}", e.what());
      retry_at_ = Clock::now() + std::min(interval, kRetryGap);
    }
    wait();
  }
}

// True when the thread should end; turns an ask for a claim into a claim due.
bool PgCluster::State::take_asks() {
  std::lock_guard lock(m_);
  if (claim_asked_) claim_due_ = true;
  claim_asked_ = false;
  return stop_asked_;
}

void PgCluster::State::turn() {
  if (!conn.ok()) recover();
  check_trust();
  drain();
  if (id.load(std::memory_order_acquire) == 0) register_instance();
  const Clock::time_point now = Clock::now();
  if (now >= next_heartbeat_) heartbeat();
  if (now >= next_claim_) claim_due_ = true;
  if (claim_due_ && Clock::now() >= last_claim_ + kClaimGap) claim();
  send_events();
  drain();  // what came in during the statements: the socket will not show it again
}

// A new session after the connection broke: the listens and the instance's lock were the old
// session's. The lock is taken again only while the instance's row exists; gone, the instance
// was reaped and its tasks are another's.
void PgCluster::State::recover() {
  if (!conn.reconnect()) throw StoreError(conn.where() + ": the connection is lost; reconnecting");
  spdlog::info("cluster: reconnected to {}", conn.where());
  listen();
  const std::int64_t me = id.load(std::memory_order_acquire);
  if (me == 0) return;
  const pg::Result r =
      conn.run("SELECT pg_advisory_lock($2::int4, id::int4) FROM uasyncd_instances WHERE id = $1",
               pg::Params().int8(me).int8(kPgInstanceLockSpace), "cannot lock the instance again");
  if (r.rows() == 0) lose_lease("removed while the database was away");
}

// Self-fencing: past trusted_until the database may have given this instance's tasks to another
// already (it expires the lease on its own clock, a second after this one stops trusting it).
void PgCluster::State::check_trust() {
  if (id.load(std::memory_order_acquire) == 0 || Clock::now() <= trusted_until_) return;
  // Late (this thread was slow: a long claim, a loaded machine), but the database may still
  // answer: a renewal that finds the instance's row proves no one freed its tasks (a reaper
  // deletes the row and frees them in one statement). Only a failed one fences.
  if (conn.ok()) {
    try {
      heartbeat();
      if (Clock::now() <= trusted_until_) return;
    } catch (const StoreError& e) {
      spdlog::warn("cluster: {}", e.what());
    }
  }
  if (id.load(std::memory_order_acquire) != 0) lose_lease("not renewed in time");
}

// The lock of the lost instance stays held by this session until it ends: released now, it
// would let the reapers take the tasks at once, while the daemon is still stopping them; held,
// they wait for the lease's expiry on the database's clock, which is what the ttl promises.
void PgCluster::State::lose_lease(const char* why) {
  const std::int64_t old = id.exchange(0, std::memory_order_acq_rel);
  if (old == 0) return;
  spdlog::warn("cluster: instance {} lost its lease ({}); its tasks are left to others", old, why);
  if (events.lease_lost) events.lease_lost();
}

void PgCluster::State::heartbeat() {
  const std::int64_t me = id.load(std::memory_order_acquire);
  const Clock::time_point started = Clock::now();
  const auto count = [](const std::function<std::size_t()>& f) {
    return static_cast<std::int64_t>(f ? f() : 0);
  };
  std::vector<pg::Statement> statements;
  statements.push_back({"UPDATE uasyncd_instances SET heartbeat_ms = " UASYNCD_NOW_MS
                        ", expires_at = " UASYNCD_EXPIRES
                        ", running = $3, watchers = $4 WHERE id = $1",
                        pg::Params()
                            .int8(me)
                            .int8(options.lease_ttl.count())
                            .int8(count(events.running))
                            .int8(count(events.watchers))});
  // The durable half of a cancel: a request whose NOTIFY was lost (or sent before a claim moved
  // the row here) is seen within a heartbeat.
  statements.push_back({"SELECT seq FROM uasyncd_tasks WHERE owner = $1 AND state IN " UASYNCD_LIVE
                        " AND cancel_requested_ms IS NOT NULL ORDER BY seq",
                        pg::Params().int8(me)});
  statements.push_back(
      {"SELECT coalesce(bool_or(watchers > 0), false) FROM uasyncd_instances "
       "WHERE id <> $1",
       pg::Params().int8(me)});
  const std::vector<pg::Result> r = conn.run_together(statements, "cannot renew the lease");
  if (r[0].changed() == 0) {
    lose_lease("reaped by another instance");
    register_instance();
    return;
  }
  trusted_until_ = started + trust;
  next_heartbeat_ = started + interval;
  heartbeat_ns.store(steady_ns(started), std::memory_order_release);
  others_watch.store(is_true(r[2], 0, 0) || started - watch_heard_ < 3 * interval,
                     std::memory_order_release);
  std::vector<std::uint64_t> cancels;
  for (int i = 0; i < r[1].rows(); ++i)
    cancels.push_back(static_cast<std::uint64_t>(r[1].integer(i, 0)));
  if (!cancels.empty() && events.cancel_requested) events.cancel_requested(std::move(cancels));
  reap();
}

std::vector<pg::Statement> PgCluster::State::claim_statements(
    std::int64_t me, const std::map<std::string, std::size_t>& free) {
  std::vector<pg::Statement> s;
  s.push_back({claim_sql("state = 'running'", "seq"), pg::Params().int8(me).int8(kClaimLimit)});
  s.push_back({claim_sql("state = 'scheduled' AND run_at_ms <= " UASYNCD_NOW_MS, "run_at_ms, seq"),
               pg::Params().int8(me).int8(kClaimLimit)});
  // The words of the uasyncd_tasks_claim index, so that the planner uses it.
  const std::string pending = claim_sql("state = 'pending' AND queue = $3", "priority DESC, seq");
  const std::string named =
      claim_sql("state = 'pending' AND queue = $3", "priority DESC, seq", kClusterRoomSql);
  for (const auto& [queue, n] : free) {
    if (n == 0) continue;
    const auto limit = static_cast<std::int64_t>(std::min<std::size_t>(n, kClaimLimit));
    if (queue == "default") {  // --max-running: a limit per instance
      s.push_back({pending, pg::Params().int8(me).int8(limit).text(queue)});
      continue;
    }
    // A named queue's stored limit holds for the whole cluster: claimers of one queue take
    // turns (a lock until the claim's commit), each counting what the others hold.
    s.push_back({"SELECT pg_advisory_xact_lock($1::int4, hashtext($2))",
                 pg::Params().int8(kPgQueueLockSpace).text(queue)});
    s.push_back({named, pg::Params().int8(me).int8(limit).text(queue)});
  }
  return s;
}

void PgCluster::State::claim() {
  check_trust();
  last_claim_ = Clock::now();
  next_claim_ = last_claim_ + kClaimPeriod;
  claim_due_ = false;
  const std::int64_t me = id.load(std::memory_order_acquire);
  if (me == 0 || stopping.load(std::memory_order_acquire)) return;
  std::map<std::string, std::size_t> free;
  {
    std::lock_guard lock(m_);
    // Not before the daemon asks: rows claimed before it can take them would be held by no one.
    if (!claims_allowed_) return;
    free = free_;
  }
  // One transaction (a pipeline): every kind is claimed, or none.
  const std::vector<pg::Result> results =
      conn.run_together(claim_statements(me, free), "cannot claim tasks");
  std::vector<ClaimedRow> rows;
  std::map<std::string, std::size_t> taken;
  for (std::size_t k = 0; k < results.size(); ++k) {
    const pg::Result& r = results[k];
    if (PQnfields(r.get()) < 4) continue;  // a queue's lock, not a claim
    // Orphans and due rows beyond one claim's limit: the next claim follows at once.
    if (k < 2 && r.rows() >= kClaimLimit) claim_due_ = true;
    const int columns = PQnfields(r.get());  // kPgRowColumns, then queue, priority, cancel
    const std::size_t first = rows.size();
    for (int i = 0; i < r.rows(); ++i) {
      ClaimedRow c{pg_read_row(r, i), is_true(r, i, columns - 1)};
      c.row.queue = r.bytes(i, columns - 3);
      c.row.priority = static_cast<int>(r.integer(i, columns - 2));
      ++taken[c.row.queue];
      rows.push_back(std::move(c));
    }
    // An UPDATE returns its rows in no order: each kind in the order it was claimed in.
    std::sort(rows.begin() + static_cast<std::ptrdiff_t>(first), rows.end(),
              [](const ClaimedRow& a, const ClaimedRow& b) {
                return a.row.priority != b.row.priority ? a.row.priority > b.row.priority
                                                        : a.row.id < b.row.id;
              });
  }
  {
    // The room these rows take is spent until the loop tells its room again (a claim on a wake
    // meanwhile would otherwise take rows the loop must release again, waking every instance).
    std::lock_guard lock(m_);
    for (const auto& [queue, n] : taken) {
      auto q = free_.find(queue);
      if (q != free_.end()) q->second -= std::min(q->second, n);
    }
  }
  if (!rows.empty() && events.claimed) events.claimed(std::move(rows));
}

void PgCluster::State::drain() {
  if (!conn.ok()) return;
  std::vector<std::uint64_t> cancels;
  std::vector<RemoteRequest> requests;
  std::vector<std::string> remote;
  bool room = false;
  bool room_known = false;
  const std::int64_t me = id.load(std::memory_order_acquire);
  while (PGnotify* n = PQnotifies(conn.get())) {
    const std::string_view channel = n->relname;
    const std::string_view payload = n->extra != nullptr ? n->extra : "";
    if (channel == kEventsChannel) {
      // "INSTANCE\nEVENT\nEVENT...": another's only (this instance published its own already).
      const std::size_t eol = payload.find('\n');
      std::int64_t from = 0;
      std::from_chars(payload.data(), payload.data() + std::min(eol, payload.size()), from);
      if (eol != std::string_view::npos && from != me) {
        for (std::size_t at = eol + 1; at <= payload.size();) {
          const std::size_t end = std::min(payload.find('\n', at), payload.size());
          if (end > at) remote.emplace_back(payload.substr(at, end - at));
          at = end + 1;
        }
      }
    } else if (channel == kControlChannel) {
      if (payload == kWatchPayload) {
        watch_heard_ = Clock::now();
        others_watch.store(true, std::memory_order_release);
      }
      const std::optional<ControlCancel> c = parse_cancel(payload);
      if (c && me != 0 && c->owner == me) cancels.push_back(c->id);
      const std::optional<OwnerRequest> r = parse_request(payload);
      if (r && me != 0 && r->owner == me) requests.push_back(r->request);
      if (std::optional<RequestAnswer> a = parse_answer(payload); a && me != 0 && a->to == me) {
        std::lock_guard lock(answers_mu_);
        if (auto w = awaited_.find(a->nonce); w != awaited_.end() && !w->second) {
          w->second = std::move(*a);
          answers_cv_.notify_all();
        }
      }
    } else if (channel == kWakeChannel) {
      if (payload == kOrphansPayload) {
        claim_due_ = true;
      } else {
        if (!room_known) room = any_room();
        room_known = true;
        if (room) claim_due_ = true;
      }
    }
    PQfreemem(n);
  }
  if (!cancels.empty() && events.cancel_requested) events.cancel_requested(std::move(cancels));
  for (const RemoteRequest& r : requests) {
    if (events.request_received) {
      events.request_received(r);
    } else {
      answer(r, "gone", "this instance takes no requests");
    }
  }
  if (!remote.empty() && events.remote_events) events.remote_events(std::move(remote));
}

void PgCluster::State::answer(const RemoteRequest& request, std::string code, std::string message) {
  const std::string text =
      format_answer({request.from, request.nonce, std::move(code), std::move(message)});
  {
    std::lock_guard lock(m_);
    answers_out_.push_back(text);
  }
  signal();
}

void PgCluster::State::wait() {
  const Clock::time_point now = Clock::now();
  Clock::time_point deadline;
  if (retry_at_ != Clock::time_point::max()) {
    deadline = retry_at_;  // the database failed: not before then
  } else {
    deadline = std::min(next_heartbeat_, next_claim_);
    if (claim_due_) deadline = std::min(deadline, last_claim_ + kClaimGap);
  }
  if (id.load(std::memory_order_acquire) != 0) {
    deadline = std::min(deadline, trusted_until_ + milliseconds(1));
  }
  // Rounded up: a wake a little early would only turn again to find nothing due.
  const auto left = std::chrono::ceil<milliseconds>(deadline - now).count();
  const int timeout = static_cast<int>(std::clamp<std::int64_t>(left, 0, 60'000));
  const int socket = conn.ok() ? PQsocket(conn.get()) : -1;
  pollfd fds[2] = {{wake_fd, POLLIN, 0}, {socket, POLLIN, 0}};
  const nfds_t count = socket >= 0 ? 2 : 1;
  if (::poll(fds, count, timeout) <= 0) return;
  if ((fds[0].revents & POLLIN) != 0) {
    std::uint64_t wakes = 0;
    const ssize_t n = ::read(wake_fd, &wakes, sizeof wakes);
    (void)n;  // EAGAIN: another read took them
  }
  // A broken connection shows in conn.ok() at the next turn.
  if (count == 2 && fds[1].revents != 0) PQconsumeInput(conn.get());
}

std::unique_ptr<PgCluster> PgCluster::start(const ClusterOptions& options, ClusterEvents events) {
  std::unique_ptr<PgCluster> cluster(new PgCluster());
  cluster->state_ = std::make_unique<State>(options, std::move(events), cluster->id_);
  State& s = *cluster->state_;
  // Done by the store already in a daemon; idempotent and locked, and it lets a cluster be used
  // on a database of its own.
  migrate_pg_schema(s.conn, PgStore::kSchemaVersion);
  s.listen();
  s.register_instance();
  s.reap();
  s.thread = std::thread([&s] {
    pthread_setname_np(pthread_self(), "uasyncd-cluster");  // as top -H and perf show it
    s.run();
  });
  return cluster;
}

PgCluster::~PgCluster() {
  stop();
}

void PgCluster::want_claim(std::map<std::string, std::size_t> free) {
  if (!state_) return;  // stopped
  {
    std::lock_guard lock(state_->m_);
    // A claim is worth it only where there is more room than the last claim left (told at every
    // start and end of a task: most tells change nothing worth a query).
    bool more = !state_->claims_allowed_;
    for (const auto& [queue, n] : free) {
      auto was = state_->free_.find(queue);
      if (n > (was == state_->free_.end() ? 0 : was->second)) more = true;
    }
    state_->free_ = std::move(free);
    state_->claims_allowed_ = true;
    if (!more) return;
    state_->claim_asked_ = true;
  }
  state_->signal();
}

PgCluster::CancelOutcome PgCluster::request_cancel(std::uint64_t id) {
  if (!state_) throw StoreError("cluster: stopped");
  // Safe to repeat: the request is sticky (coalesce), a second message is ignored as a first.
  return state_->pool.with([&](pg::Connection& conn) -> CancelOutcome {
    const pg::Result r = conn.run(kCancelSql,
                                  pg::Params()
                                      .int8(static_cast<std::int64_t>(id))
                                      .bytes("CancelledError")
                                      .bytes("cancelled while pending")
                                      .bytes("cancelled while scheduled"),
                                  "cannot cancel the task");
    if (r.rows() == 0) return {};
    if (r.bytes(0, 0) == "cancelled") return {CancelOutcome::Kind::cancelled, 0};
    const std::int64_t owner = r.integer(0, 1);  // 0: an orphan; its claimer sees the request
    if (owner != 0) {
      // After the commit (the UPDATE above was its own transaction): the owner finds the
      // request when the message comes, or at its next heartbeat if it is lost.
      conn.run("SELECT pg_notify($1, $2)",
               pg::Params()
                   .text(kControlChannel)
                   .text(std::to_string(owner) + " cancel " + std::to_string(id)),
               "cannot send the cancel");
    }
    return {CancelOutcome::Kind::sent, owner};
  });
}

PgCluster::OwnerOutcome PgCluster::ask_owner(RemoteRequest::Kind kind, std::uint64_t id,
                                             std::int64_t value, std::chrono::milliseconds wait) {
  if (!state_) throw StoreError("cluster: stopped");
  State& st = *state_;
  const std::int64_t me = instance_id();
  if (me == 0) throw StoreError("cluster: this instance has no lease now; try again");
  const std::uint64_t nonce = st.next_nonce_.fetch_add(1);
  {
    std::lock_guard lock(st.answers_mu_);
    st.awaited_[nonce];
  }
  struct Forget {  // the nonce, however this ends
    State& st;
    std::uint64_t nonce;
    ~Forget() {
      std::lock_guard lock(st.answers_mu_);
      st.awaited_.erase(nonce);
    }
  } forget{st, nonce};
  OwnerOutcome out;
  const bool asked = st.pool.with([&](pg::Connection& conn) {
    const pg::Result r = conn.run(
        "SELECT coalesce(owner, 0) FROM uasyncd_tasks WHERE seq = $1 "
        "AND state IN " UASYNCD_LIVE,
        pg::Params().int8(static_cast<std::int64_t>(id)), "cannot read the task's owner");
    if (r.rows() == 0) return false;  // not_live
    out.owner = r.integer(0, 0);
    if (out.owner == 0) {
      out.kind = OwnerOutcome::Kind::unowned;
      return false;
    }
    conn.run("SELECT pg_notify($1, $2)",
             pg::Params()
                 .text(kControlChannel)
                 .text(format_request({out.owner, {kind, id, value, me, nonce}})),
             "cannot send the request");
    return true;
  });
  if (!asked) return out;
  std::unique_lock lock(st.answers_mu_);
  const auto answered = [&] { return st.awaited_[nonce].has_value(); };
  if (!st.answers_cv_.wait_for(lock, wait, answered)) {
    out.kind = OwnerOutcome::Kind::no_answer;
    return out;
  }
  RequestAnswer& a = *st.awaited_[nonce];
  out.kind = a.code == "ok" ? OwnerOutcome::Kind::applied : OwnerOutcome::Kind::refused;
  out.code = std::move(a.code);
  out.message = std::move(a.message);
  return out;
}

void PgCluster::answer_request(const RemoteRequest& request, std::string code,
                               std::string message) {
  if (state_) state_->answer(request, std::move(code), std::move(message));
}

std::vector<InstanceInfo> PgCluster::instances() {
  if (!state_) throw StoreError("cluster: stopped");
  return state_->pool.with([](pg::Connection& conn) {
    const pg::Result r =
        conn.run("SELECT id, name, started_ms, " UASYNCD_NOW_MS
                 " - heartbeat_ms, running, stopping FROM uasyncd_instances ORDER BY id",
                 "cannot list the instances");
    std::vector<InstanceInfo> out;
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back({r.integer(i, 0), r.bytes(i, 1), r.integer(i, 2),
                     static_cast<double>(r.integer(i, 3)) / 1000.0, r.integer(i, 4),
                     is_true(r, i, 5)});
    }
    return out;
  });
}

void PgCluster::forward_event(std::string event) {
  if (!state_) return;
  bool first = false;
  {
    std::lock_guard lock(state_->m_);
    if (state_->outbox_bytes_ + event.size() > kOutboxBytes) {
      ++state_->events_dropped_;
      return;
    }
    first = state_->outbox_.empty();
    state_->outbox_bytes_ += event.size();
    state_->outbox_.push_back(std::move(event));
  }
  if (first) state_->signal();
}

bool PgCluster::others_watch() const {
  return state_ && state_->others_watch.load(std::memory_order_acquire);
}

void PgCluster::watching() {
  if (!state_) return;
  {
    std::lock_guard lock(state_->m_);
    state_->announce_watch_ = true;
  }
  state_->signal();
}

std::chrono::milliseconds PgCluster::lease_age() const {
  if (!state_) return milliseconds(0);
  const std::int64_t at = state_->heartbeat_ns.load(std::memory_order_acquire);
  return std::chrono::duration_cast<milliseconds>(
      std::chrono::nanoseconds(steady_ns(Clock::now()) - at));
}

void PgCluster::stopping() {
  if (!state_) return;
  state_->stopping.store(true, std::memory_order_release);
  const std::int64_t me = instance_id();
  if (me == 0) return;
  try {
    state_->pool.with([&](pg::Connection& conn) {
      conn.run("UPDATE uasyncd_instances SET stopping = true WHERE id = $1", pg::Params().int8(me),
               "cannot mark the instance stopping");
    });
  } catch (const StoreError& e) {
    spdlog::warn("cluster: {}", e.what());  // shown as running until its row goes; no harm
  }
}

void PgCluster::stop() {
  if (!state_) return;
  if (state_->thread.joinable()) {
    state_->ask_stop();
    state_->thread.join();
  }
  state_->retire(id_.exchange(0, std::memory_order_acq_rel));
  state_.reset();
}

#undef UASYNCD_NOW_MS
#undef UASYNCD_LIVE
#undef UASYNCD_EXPIRES

}  // namespace uasyncd::server
