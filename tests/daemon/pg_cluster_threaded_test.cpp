// Cluster mode's membership, leases, claims and cancels (pg_cluster.hpp) on the tests' real
// PostgreSQL server: several PgCluster objects share a database of the test's own, as daemons
// would; task rows are written with SQL, as another instance would leave them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pg_conn.hpp"
#include "pg_schema.hpp"
#include "pg_store.hpp"
#include "pg_test_db.hpp"
#include "uasyncd/store/pg_cluster.hpp"

namespace {

namespace pg = uasyncd::server::pg;
namespace srv = uasyncd::server;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A database of the test's own, named after the test, with the current schema.
std::string test_database() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  static std::atomic<int> made{0};  // a test run again in one process (--gtest_repeat)
  std::string name = "c_";
  name += std::to_string(::getpid());
  name += '_';
  name += std::to_string(made++);
  name += '_';
  for (const char ch : std::string(info->name()))
    name += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  name = name.substr(0, 60);
  const std::string url = uasyncd::test::pg_test_database(name);
  pg::Connection c(url);
  srv::migrate_pg_schema(c, srv::PgStore::kSchemaVersion);
  return url;
}

// What a cluster told its loop; any thread.
struct Heard {
  std::mutex m;
  std::condition_variable changed;
  std::vector<std::vector<srv::ClaimedRow>> batches;
  std::vector<std::uint64_t> cancels;
  int lost = 0;

  // Waits until `done` holds (under the lock) or `limit` passes; true if it held.
  bool wait(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    std::unique_lock lock(m);
    return changed.wait_for(lock, limit, done);
  }
  int lost_count() {
    std::lock_guard lock(m);
    return lost;
  }
  std::vector<std::uint64_t> cancelled() {
    std::lock_guard lock(m);
    return cancels;
  }
  std::vector<srv::ClaimedRow> rows() {
    std::lock_guard lock(m);
    std::vector<srv::ClaimedRow> all;
    for (const auto& b : batches)
      all.insert(all.end(), b.begin(), b.end());
    return all;
  }
};

srv::ClusterEvents events_for(Heard& h) {
  srv::ClusterEvents e;
  e.claimed = [&h](std::vector<srv::ClaimedRow> rows) {
    std::lock_guard lock(h.m);
    h.batches.push_back(std::move(rows));
    h.changed.notify_all();
  };
  e.cancel_requested = [&h](std::vector<std::uint64_t> ids) {
    std::lock_guard lock(h.m);
    h.cancels.insert(h.cancels.end(), ids.begin(), ids.end());
    h.changed.notify_all();
  };
  e.lease_lost = [&h] {
    std::lock_guard lock(h.m);
    ++h.lost;
    h.changed.notify_all();
  };
  e.running = [] { return std::size_t{3}; };
  e.watchers = [] { return std::size_t{0}; };
  return e;
}

std::unique_ptr<srv::PgCluster> start(const std::string& url, const std::string& name, Heard& heard,
                                      std::chrono::milliseconds ttl = 1000ms) {
  auto cluster = srv::PgCluster::start({url, name, ttl}, events_for(heard));
  // As a daemon does once its service can take claimed rows (none are claimed before).
  cluster->want_claim({});
  return cluster;
}

// Task rows seq first..last with the columns the table requires; `owner` 0: none.
void insert_tasks(pg::Connection& c, std::int64_t first, std::int64_t last, const char* state,
                  const char* queue = "default", std::int64_t owner = 0, const char* priority = "0",
                  const char* run_at = "NULL") {
  pg::Params p;
  p.int8(first).int8(last).text(state).text(queue);
  if (owner != 0) {
    p.int8(owner);
  } else {
    p.null_int8();
  }
  c.run((std::string("INSERT INTO uasyncd_tasks(seq, spec, name, name_folded, kind, state, "
                     "attempts, created_ms, started_ms, finished_ms, queue, owner, priority, "
                     "run_at_ms) SELECT g, convert_to('{\"value\":1}', 'UTF8'), '', '', 'value', "
                     "$3, 1, 1, 0, 0, $4, $5, ") +
         priority + ", " + run_at + " FROM generate_series($1::bigint, $2::bigint) g")
            .c_str(),
        p, "insert tasks");
}

std::int64_t count(pg::Connection& c, const std::string& sql) {
  return c.run(sql.c_str(), "count").integer(0, 0);
}

// Polls `done` until it holds or `limit` passes.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto until = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

TEST(PgCluster, TwoInstancesGetDistinctIdsAndSeeEachOther) {
  const std::string url = test_database();
  Heard ha, hb;
  auto a = start(url, "alpha", ha);
  auto b = start(url, "beta", hb);
  ASSERT_NE(a->instance_id(), 0);
  ASSERT_NE(b->instance_id(), 0);
  EXPECT_NE(a->instance_id(), b->instance_id());
  const std::vector<srv::InstanceInfo> seen = a->instances();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].id, a->instance_id());
  EXPECT_EQ(seen[0].name, "alpha");
  EXPECT_EQ(seen[1].id, b->instance_id());
  EXPECT_EQ(seen[1].name, "beta");
  EXPECT_GT(seen[0].started_ms, 1'700'000'000'000);
  EXPECT_LT(seen[1].heartbeat_age_s, 1.0);
  EXPECT_FALSE(seen[1].stopping);
  EXPECT_LT(a->lease_age(), 1000ms);
  // The heartbeat writes the loop's counts.
  pg::Connection sql(url);
  EXPECT_TRUE(eventually(
      [&] { return count(sql, "SELECT count(*) FROM uasyncd_instances WHERE running = 3") == 2; },
      2s));
  b->stopping();
  EXPECT_TRUE(a->instances()[1].stopping);
  b->stop();
  ASSERT_EQ(a->instances().size(), 1u);
  EXPECT_EQ(ha.lost_count(), 0);
}

TEST(PgCluster, ConcurrentClaimsNeverGiveARowTwiceAndRespectTheRoom) {
  const std::string url = test_database();
  pg::Connection sql(url);
  insert_tasks(sql, 1, 1000, "pending", "a", 0, "g % 5");
  insert_tasks(sql, 1001, 2000, "pending", "b");
  Heard ha, hb;
  auto a = start(url, "a", ha);
  auto b = start(url, "b", hb);
  const std::map<std::string, std::size_t> room{{"a", 37}, {"b", 23}, {"empty", 5}};
  std::atomic<bool> done{false};
  const auto ask = [&](srv::PgCluster& c) {
    while (!done.load()) {
      c.want_claim(room);
      std::this_thread::sleep_for(3ms);
    }
  };
  std::thread ta(ask, std::ref(*a));
  std::thread tb(ask, std::ref(*b));
  const bool all = eventually([&] { return ha.rows().size() + hb.rows().size() >= 2000; }, 30s);
  done = true;
  ta.join();
  tb.join();
  ASSERT_TRUE(all) << ha.rows().size() + hb.rows().size();
  std::set<std::uint64_t> ids;
  for (Heard* h : {&ha, &hb}) {
    std::lock_guard lock(h->m);
    for (const auto& batch : h->batches) {
      std::map<std::string, std::size_t> per_queue;
      for (const srv::ClaimedRow& r : batch) {
        EXPECT_TRUE(ids.insert(r.row.id).second) << "claimed twice: " << r.row.id;
        EXPECT_EQ(r.row.state, uasyncd::server::JobState::pending);
        EXPECT_FALSE(r.cancel_requested);
        ++per_queue[r.row.queue];
      }
      EXPECT_LE(per_queue["a"], 37u);
      EXPECT_LE(per_queue["b"], 23u);
    }
  }
  EXPECT_EQ(ids.size(), 2000u);
  // Each row is owned by the instance that was told of it.
  for (const auto& [h, c] : {std::pair{&ha, a.get()}, std::pair{&hb, b.get()}}) {
    const auto n = static_cast<std::int64_t>(h->rows().size());
    EXPECT_EQ(count(sql, "SELECT count(*) FROM uasyncd_tasks WHERE owner = " +
                             std::to_string(c->instance_id())),
              n);
  }
  EXPECT_GT(ha.rows().size(), 0u);
  EXPECT_GT(hb.rows().size(), 0u);
}

TEST(PgCluster, AClaimTakesTheRoomByPriorityThenAgeAndOnlyDueScheduledRows) {
  const std::string url = test_database();
  pg::Connection sql(url);
  insert_tasks(sql, 1, 20, "pending", "a", 0, "g % 3");      // priority 2: 2, 5, 8, 11, 14, 17, 20
  insert_tasks(sql, 21, 22, "scheduled", "a", 0, "0", "1");  // due long ago
  insert_tasks(sql, 23, 23, "scheduled", "a", 0, "0",
               "(extract(epoch FROM now()) * 1000)::bigint + 3600000");
  Heard h;
  auto a = start(url, "a", h);
  // The due scheduled rows come first, by the claim the first ask makes. Waited for: a room told
  // while that claim runs is spent by its rows too (the loop would run them in that room), and
  // this test wants all four slots for pending rows.
  ASSERT_TRUE(eventually([&] { return h.rows().size() >= 2; }, 10s));  // TSan is slow
  a->want_claim({{"a", 4}});
  ASSERT_TRUE(eventually([&] { return h.rows().size() >= 6; }, 10s));
  std::vector<std::uint64_t> got;
  for (const srv::ClaimedRow& r : h.rows())
    got.push_back(r.row.id);
  EXPECT_EQ(got, (std::vector<std::uint64_t>{21, 22, 2, 5, 8, 11}));
  // The room is spent: a periodic claim a second later takes nothing more.
  std::this_thread::sleep_for(1200ms);
  EXPECT_EQ(h.rows().size(), 6u);
  EXPECT_EQ(count(sql, "SELECT count(*) FROM uasyncd_tasks WHERE owner IS NOT NULL"), 6);
}

TEST(PgCluster, AReapedInstanceLosesItsLeaseAndRegistersAnew) {
  const std::string url = test_database();
  pg::Connection sql(url);
  Heard h;
  auto a = start(url, "a", h);
  const std::int64_t first = a->instance_id();
  insert_tasks(sql, 1, 2, "running", "default", first);
  sql.run("DELETE FROM uasyncd_instances WHERE id = $1", pg::Params().int8(first), "delete");
  const auto asked = Clock::now();
  ASSERT_TRUE(h.wait([&] { return h.lost == 1; }, 1000ms));
  EXPECT_LT(Clock::now() - asked, 1000ms);  // within the ttl
  ASSERT_TRUE(eventually([&] { return a->instance_id() != 0; }, 1s));
  EXPECT_NE(a->instance_id(), first);
  // The rows of the removed instance are nobody's: the next reap frees them, and the periodic
  // claim takes them back as orphans, interrupted.
  ASSERT_TRUE(h.wait([&] { return !h.batches.empty(); }, 3s));
  const std::vector<srv::ClaimedRow> rows = h.rows();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].row.state, uasyncd::server::JobState::running);
  EXPECT_GT(rows[0].row.interrupted_at_ms, 0);
  EXPECT_EQ(count(sql, "SELECT count(*) FROM uasyncd_tasks WHERE owner = " +
                           std::to_string(a->instance_id())),
            2);
  EXPECT_EQ(h.lost_count(), 1);
}

TEST(PgCluster, AnInstanceThatCannotRenewInTimeFencesItself) {
  const std::string url = test_database();
  Heard h;
  auto a = start(url, "a", h);
  const std::int64_t first = a->instance_id();
  // Another transaction holds the instance's row: the heartbeats wait, then time out.
  pg::Connection blocker(url);
  blocker.run("BEGIN", "begin");
  blocker.run("SELECT 1 FROM uasyncd_instances WHERE id = $1 FOR UPDATE", pg::Params().int8(first),
              "lock");
  ASSERT_TRUE(h.wait([&] { return h.lost == 1; }, 3s));
  blocker.run("COMMIT", "commit");
  ASSERT_TRUE(eventually([&] { return a->instance_id() != 0; }, 3s));
  EXPECT_NE(a->instance_id(), first);
  // The old row expires (its lease is a second) and is reaped by the new instance.
  pg::Connection sql(url);
  EXPECT_TRUE(eventually(
      [&] {
        return count(sql, "SELECT count(*) FROM uasyncd_instances WHERE id = " +
                              std::to_string(first)) == 0;
      },
      3s));
  EXPECT_EQ(h.lost_count(), 1);
}

TEST(PgCluster, ACancelReachesTheOwnerAtOnceAndIsKept) {
  const std::string url = test_database();
  pg::Connection sql(url);
  Heard ha, hb;
  // A long ttl: heartbeats 2 s apart, so a delivery within a second is the NOTIFY's.
  auto a = start(url, "a", ha, 10'000ms);
  auto b = start(url, "b", hb, 10'000ms);
  insert_tasks(sql, 7, 7, "running", "default", a->instance_id());
  const auto asked = Clock::now();
  const srv::PgCluster::CancelOutcome out = b->request_cancel(7);
  EXPECT_EQ(out.kind, srv::PgCluster::CancelOutcome::Kind::sent);
  EXPECT_EQ(out.owner, a->instance_id());
  ASSERT_TRUE(ha.wait([&] { return !ha.cancels.empty(); }, 1s));
  EXPECT_LT(Clock::now() - asked, 1s);
  EXPECT_EQ(ha.cancelled()[0], 7u);
  EXPECT_EQ(count(sql,
                  "SELECT count(*) FROM uasyncd_tasks WHERE seq = 7 AND "
                  "cancel_requested_ms IS NOT NULL AND state = 'running'"),
            1);
  // Durable: the owner's heartbeat finds it again while the task lives.
  ASSERT_TRUE(ha.wait([&] { return ha.cancels.size() >= 2; }, 3s));
  EXPECT_EQ(ha.cancelled()[1], 7u);
  std::lock_guard lock(hb.m);
  EXPECT_TRUE(hb.cancels.empty());  // not its task
}

// A timeout (or a step's cancel) asked through "b" of a task "a" holds: "a" gets the request at
// once (a NOTIFY), and its answer comes back to the asking thread: applied, or refused with a's
// reason. A task no instance holds, or not live, is told apart without asking anyone; an owner that
// does not answer is told after the wait.
TEST(PgCluster, ARequestReachesTheOwnerAndItsAnswerComesBack) {
  const std::string url = test_database();
  pg::Connection sql(url);
  Heard ha, hb;
  std::mutex m;
  std::vector<srv::RemoteRequest> asked;
  std::string reply = "ok";
  srv::PgCluster* a_cluster = nullptr;
  srv::ClusterEvents ea = events_for(ha);
  ea.request_received = [&](srv::RemoteRequest r) {
    std::lock_guard lock(m);
    asked.push_back(r);
    if (reply == "none") return;
    a_cluster->answer_request(r, reply, reply == "ok" ? "" : "t7 ended before the timeout");
  };
  auto a = srv::PgCluster::start({url, "a", 10'000ms}, ea);
  {
    std::lock_guard lock(m);
    a_cluster = a.get();
  }
  a->want_claim({});
  auto b = start(url, "b", hb, 10'000ms);
  insert_tasks(sql, 7, 7, "running", "default", a->instance_id());
  insert_tasks(sql, 8, 8, "pending", "default");  // nobody's yet
  insert_tasks(sql, 9, 9, "done", "default");
  using Kind = srv::PgCluster::OwnerOutcome::Kind;
  constexpr auto kTimeout = srv::RemoteRequest::Kind::timeout;

  const auto started = Clock::now();
  srv::PgCluster::OwnerOutcome out = b->ask_owner(kTimeout, 7, 1500, 2s);
  EXPECT_EQ(out.kind, Kind::applied) << out.code << ' ' << out.message;
  EXPECT_EQ(out.owner, a->instance_id());
  EXPECT_LT(Clock::now() - started, 1s);  // a NOTIFY each way, not a heartbeat
  {
    std::lock_guard lock(m);
    ASSERT_EQ(asked.size(), 1u);
    EXPECT_EQ(asked[0].id, 7u);
    EXPECT_EQ(asked[0].kind, kTimeout);
    EXPECT_EQ(asked[0].value, 1500);
    EXPECT_EQ(asked[0].from, b->instance_id());
    reply = "finished";
  }
  out = b->ask_owner(srv::RemoteRequest::Kind::cancel_step, 7, 2, 2s);
  EXPECT_EQ(out.kind, Kind::refused);
  EXPECT_EQ(out.code, "finished");
  EXPECT_EQ(out.message, "t7 ended before the timeout");

  EXPECT_EQ(b->ask_owner(kTimeout, 8, 10, 2s).kind, Kind::unowned);
  EXPECT_EQ(b->ask_owner(kTimeout, 9, 10, 2s).kind, Kind::not_live);
  EXPECT_EQ(b->ask_owner(kTimeout, 10, 10, 2s).kind, Kind::not_live);
  {
    std::lock_guard lock(m);
    ASSERT_EQ(asked.size(), 2u);  // only the owned live task's requests went out
    EXPECT_EQ(asked[1].kind, srv::RemoteRequest::Kind::cancel_step);
    EXPECT_EQ(asked[1].value, 2);
    reply = "none";
  }
  const auto waited_from = Clock::now();
  out = b->ask_owner(kTimeout, 7, 10, 300ms);
  EXPECT_EQ(out.kind, Kind::no_answer);
  EXPECT_GE(Clock::now() - waited_from, 300ms);
  std::lock_guard lock(hb.m);
  EXPECT_TRUE(hb.cancels.empty());
}

TEST(PgCluster, ACutConnectionIsReplacedWithTheInstancesLockAndListens) {
  const std::string url = test_database();
  pg::Connection sql(url);
  Heard ha, hb;
  auto a = start(url, "a", ha, 10'000ms);
  auto b = start(url, "b", hb, 10'000ms);
  const std::int64_t id = a->instance_id();
  insert_tasks(sql, 7, 7, "running", "default", id);
  ASSERT_EQ(b->instances().size(), 2u);  // a pool connection of b's, cut below
  const auto locks = [&] {
    pg::Connection sql(url);
    return count(sql,
                 "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 AND "
                 "granted AND database = (SELECT oid FROM pg_database WHERE datname = "
                 "current_database()) AND classid = " +
                     std::to_string(srv::kPgInstanceLockSpace) +
                     " AND objid = " + std::to_string(id));
  };
  ASSERT_EQ(locks(), 1);
  const std::string name = PQdb(sql.get());
  uasyncd::test::pg_test_cut_connections(name);
  ASSERT_TRUE(eventually([&] { return locks() == 1; }, 2s));
  EXPECT_EQ(a->instance_id(), id);
  // b's cut pool connection is replaced at its next use; a hears the message on its new session
  // (within a second: its next heartbeat is two away).
  const auto asked = Clock::now();
  EXPECT_EQ(b->request_cancel(7).owner, id);
  ASSERT_TRUE(ha.wait([&] { return !ha.cancels.empty(); }, 1s));
  EXPECT_LT(Clock::now() - asked, 1s);
  EXPECT_EQ(ha.lost_count(), 0);
  EXPECT_EQ(hb.lost_count(), 0);
}

TEST(PgCluster, ACancelOfAnUnownedRowCancelsItOrRecordsItForItsClaimer) {
  const std::string url = test_database();
  pg::Connection sql(url);
  insert_tasks(sql, 5, 5, "pending");
  insert_tasks(sql, 6, 6, "scheduled", "default", 0, "0",
               "(extract(epoch FROM now()) * 1000)::bigint + 3600000");
  Heard h;
  auto a = start(url, "a", h);
  using Kind = srv::PgCluster::CancelOutcome::Kind;
  EXPECT_EQ(a->request_cancel(5).kind, Kind::cancelled);
  EXPECT_EQ(a->request_cancel(6).kind, Kind::cancelled);
  const pg::Result r = sql.run(
      "SELECT state, convert_from(error_type, 'UTF8'), convert_from(error_message, 'UTF8'), "
      "finished_ms, owner FROM uasyncd_tasks WHERE seq IN (5, 6) ORDER BY seq",
      "read");
  ASSERT_EQ(r.rows(), 2);
  EXPECT_EQ(r.bytes(0, 0), "cancelled");
  EXPECT_EQ(r.bytes(0, 1), "CancelledError");
  EXPECT_EQ(r.bytes(0, 2), "cancelled while pending");
  EXPECT_EQ(r.bytes(1, 2), "cancelled while scheduled");
  EXPECT_GT(r.integer(0, 3), 1'700'000'000'000);
  EXPECT_TRUE(r.null(0, 4));
  EXPECT_EQ(a->request_cancel(5).kind, Kind::not_live);
  EXPECT_EQ(a->request_cancel(999).kind, Kind::not_live);
  // An unowned running row (an orphan): the request is kept, and its claimer is told.
  insert_tasks(sql, 8, 8, "running");
  const srv::PgCluster::CancelOutcome orphan = a->request_cancel(8);
  EXPECT_EQ(orphan.kind, Kind::sent);
  EXPECT_EQ(orphan.owner, 0);
  a->want_claim({});
  ASSERT_TRUE(h.wait([&] { return !h.batches.empty(); }, 2s));
  const std::vector<srv::ClaimedRow> rows = h.rows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].row.id, 8u);
  EXPECT_TRUE(rows[0].cancel_requested);
}

TEST(PgCluster, ADeadInstancesTasksAreFreedAndClaimedAsOrphans) {
  const std::string url = test_database();
  pg::Connection sql(url);
  Heard h;
  auto a = start(url, "a", h);
  const auto instance = [&](const char* expires, const char* heartbeat) {
    return sql
        .run((std::string("INSERT INTO uasyncd_instances(name, started_ms, heartbeat_ms, "
                          "expires_at) VALUES ('x', 1, ") +
              heartbeat + ", " + expires + ") RETURNING id")
                 .c_str(),
             "insert instance")
        .integer(0, 0);
  };
  // Expired on the database's clock.
  const std::int64_t expired = instance("now() - interval '1 second'", "12345");
  // Not expired, but silent for 10 s and its lock free: its session is gone.
  const std::int64_t unlocked =
      instance("now() + interval '1 hour'", "(extract(epoch FROM now()) * 1000)::bigint - 10000");
  // The same, but its lock held (by this test's session, as its cluster connection would): alive.
  const std::int64_t locked =
      instance("now() + interval '1 hour'", "(extract(epoch FROM now()) * 1000)::bigint - 10000");
  sql.run("SELECT pg_advisory_lock($1::int4, $2::int4)",
          pg::Params().int8(srv::kPgInstanceLockSpace).int8(locked), "lock");
  insert_tasks(sql, 1, 3, "running", "default", expired);
  insert_tasks(sql, 4, 4, "pending", "default", expired);
  insert_tasks(sql, 5, 5, "running", "default", unlocked);
  insert_tasks(sql, 6, 6, "running", "default", locked);
  ASSERT_TRUE(
      eventually([&] { return count(sql, "SELECT count(*) FROM uasyncd_instances") == 2; }, 2s));
  EXPECT_EQ(
      count(sql, "SELECT count(*) FROM uasyncd_instances WHERE id = " + std::to_string(locked)), 1);
  // The running orphans come back claimed (on the reaper's wake, or the periodic claim), with
  // the dead instance's last heartbeat as their interruption; the pending one waits for room.
  ASSERT_TRUE(h.wait(
      [&] {
        std::size_t n = 0;
        for (const auto& b : h.batches)
          n += b.size();
        return n >= 4;
      },
      3s));
  std::map<std::uint64_t, srv::ClaimedRow> rows;
  for (srv::ClaimedRow& r : h.rows())
    rows.emplace(r.row.id, std::move(r));
  ASSERT_EQ(rows.size(), 4u);
  for (std::uint64_t id : {1, 2, 3, 5}) {
    ASSERT_TRUE(rows.count(id)) << id;
    EXPECT_EQ(rows[id].row.state, uasyncd::server::JobState::running);
  }
  EXPECT_EQ(rows[1].row.interrupted_at_ms, 12345);
  EXPECT_GT(rows[5].row.interrupted_at_ms, 1'700'000'000'000);
  EXPECT_EQ(count(sql,
                  "SELECT count(*) FROM uasyncd_tasks WHERE seq = 4 AND owner IS NULL AND "
                  "interrupted_ms = 0"),
            1);
  EXPECT_EQ(count(sql, "SELECT owner FROM uasyncd_tasks WHERE seq = 6"), locked);
  EXPECT_EQ(h.lost_count(), 0);
}

TEST(PgCluster, StopLeavesTheInstancesTasksToOthersAtOnce) {
  const std::string url = test_database();
  pg::Connection sql(url);
  insert_tasks(sql, 1, 3, "pending");
  Heard ha, hb;
  auto a = start(url, "a", ha);
  a->want_claim({{"default", 3}});
  ASSERT_TRUE(ha.wait([&] { return !ha.batches.empty(); }, 2s));
  const std::int64_t id = a->instance_id();
  auto b = start(url, "b", hb);
  a->stop();
  EXPECT_EQ(count(sql, "SELECT count(*) FROM uasyncd_instances WHERE id = " + std::to_string(id)),
            0);
  EXPECT_EQ(count(sql, "SELECT count(*) FROM uasyncd_tasks WHERE owner IS NULL"), 3);
  // b has room: the release's wake makes it claim them.
  b->want_claim({{"default", 10}});
  ASSERT_TRUE(hb.wait([&] { return !hb.batches.empty(); }, 2s));
  EXPECT_EQ(hb.rows().size(), 3u);
}

}  // namespace

// Issue 10: an exec step's output is a row of its own (uasyncd_task_outputs), written in the
// statement of the fenced update of its task: an instance that no longer holds the task (its
// owner is another) writes neither the task nor its outputs, nor does a write of its reset
// delete the holder's.
TEST(PgCluster, AFencedOutWriteLandsNoOutputsAndDeletesNone) {
  const std::string url = test_database();
  pg::Connection sql(url);
  insert_tasks(sql, 1, 1, "running", "default", 9);  // another instance's
  insert_tasks(sql, 2, 2, "running", "default", 7);  // this one's
  sql.run("INSERT INTO uasyncd_task_outputs(seq, step, body) VALUES (1, 0, 'theirs')", "output");
  std::atomic<std::int64_t> me{7};
  std::unique_ptr<srv::PgStore> store = srv::PgStore::open(url, false, &me);
  srv::WriteBatch batch;
  for (std::uint64_t seq : {1, 2}) {
    srv::JobRow row;
    row.id = seq;
    row.state = srv::JobState::running;
    row.attempts = 1;
    row.outputs_reset = true;
    row.outputs.push_back({1, "mine " + std::to_string(seq)});
    batch.updates.push_back(std::move(row));
  }
  const srv::DurableStore::Written written = store->write(batch, {});
  EXPECT_EQ(written.fenced, 1u);
  const pg::Result r =
      sql.run("SELECT seq, step, convert_from(body, 'UTF8') FROM uasyncd_task_outputs ORDER BY seq",
              "outputs");
  ASSERT_EQ(r.rows(), 2);
  EXPECT_EQ(r.integer(0, 0), 1);
  EXPECT_EQ(r.bytes(0, 2), "theirs");
  EXPECT_EQ(r.integer(1, 0), 2);
  EXPECT_EQ(r.integer(1, 1), 1);
  EXPECT_EQ(r.bytes(1, 2), "mine 2");
}
