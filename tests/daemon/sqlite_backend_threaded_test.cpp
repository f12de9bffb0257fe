// The SQLite backend on its own: the file's settings, bad files refused by name, group commits,
// rows that round-trip byte for byte, and a version-1 file (made by the old schema) migrated in
// place. What every backend must do is in backend_conformance_threaded_test.cpp.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "job_factory.hpp"
#include "legacy_outputs.hpp"
#include "sqlite_schema.hpp"
#include "uasyncd/store/job_backend.hpp"
#include "uasyncd/store/store_error.hpp"

namespace srv = uasyncd::server;
namespace fs = std::filesystem;
using nlohmann::json;
using srv::JobState;
using namespace std::chrono_literals;

namespace {

class SqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/uasyncd-store-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string db_path() const { return dir_ + "/uasyncd.db"; }
  std::unique_ptr<srv::JobBackend> open(srv::BackendOptions options = {}) {
    srv::SqliteOptions sqlite;
    sqlite.dir = dir_;
    return srv::open_sqlite_backend(sqlite, std::move(options));
  }
  // Runs `sql` on the file with a connection of its own (no daemon holds it).
  void exec_sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << error;
    sqlite3_free(error);
    sqlite3_close(db);
  }
  std::string query_text(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(db_path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr);
    std::string out;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != nullptr) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return out;
  }
  std::shared_ptr<srv::Job> read_back(srv::JobBackend& b, std::uint64_t id) {
    std::optional<srv::JobRow> row = b.get(id);
    EXPECT_TRUE(row) << id;
    if (!row) return nullptr;
    std::string why;
    std::shared_ptr<srv::Job> job = srv::job_of(*row, why);
    EXPECT_TRUE(job) << why;
    return job;
  }

  std::string dir_;
};

// A finished one-step exec job whose output holds bytes that are not UTF-8 and overflowed the
// capture cap.
std::shared_ptr<srv::Job> exec_job_with_output() {
  auto job = make_job(7, {{"exec", {"sh"}}});
  job->start(1000);
  job->start_step(0, 1000);
  srv::ExecOutput& out = job->start_exec(0);
  out.pid = 4242;
  out.exit_code = 1;
  out.out.append(std::string("\xff\xfe\x00 bytes", 9));
  out.out.append(std::string(srv::kOutputCap, 'y'));
  out.out.append("the end");
  out.err.append("short\n");
  job->finish_step(0, JobState::failed, json(), srv::ErrorInfo{"Exception", "x"}, 1001);
  job->finish(JobState::failed, json(), srv::ErrorInfo{"Exception", "x"}, 1001);
  return job;
}

}  // namespace

// Exec specs (commands, env) are in the file: only the daemon's user may read it, as Postgres
// keeps its data directory, whatever the umask.
TEST_F(SqliteTest, TheDataDirectoryIs0700AndTheFiles0600) {
  const mode_t old_umask = ::umask(022);
  srv::SqliteOptions sqlite;
  sqlite.dir = dir_ + "/data";
  auto backend = srv::open_sqlite_backend(sqlite, {});
  EXPECT_TRUE(backend->wait_committed(backend->insert(*make_job(1, {{"value", 1}})), 5s));
  ::umask(old_umask);
  const auto mode = [](const std::string& path) {
    return fs::status(path).permissions() & fs::perms::all;
  };
  EXPECT_EQ(mode(sqlite.dir), fs::perms::owner_all);
  for (const char* file : {"/uasyncd.db", "/uasyncd.db-wal", "/uasyncd.db-shm"}) {
    if (!fs::exists(sqlite.dir + file)) continue;
    EXPECT_EQ(mode(sqlite.dir + file), fs::perms::owner_read | fs::perms::owner_write) << file;
  }
  EXPECT_TRUE(fs::exists(sqlite.dir + "/uasyncd.db"));
}

TEST_F(SqliteTest, UsesWal) {
  open().reset();
  EXPECT_EQ(query_text("PRAGMA journal_mode"), "wal");
}

TEST_F(SqliteTest, CorruptFileIsRefusedByName) {
  std::ofstream(db_path()) << std::string(4096, '\x07');
  try {
    open();
    FAIL() << "opened a corrupt file";
  } catch (const srv::StoreError& e) {
    EXPECT_NE(std::string(e.what()).find(db_path()), std::string::npos) << e.what();
  }
}

TEST_F(SqliteTest, DamagedPagesAreFoundByTheCheckAtOpen) {
  {
    auto b = open();
    srv::WriteTicket last = 0;
    for (std::uint64_t id = 1; id <= 2000; ++id)
      last = b->insert(*make_job(id, {{"value", std::string(200, 'x')}}));
    ASSERT_TRUE(b->wait_committed(last, 10s));
  }
  {
    // Overwrite some pages in the middle of the file, past the header.
    std::fstream f(db_path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8 * 4096);
    const std::string junk(3 * 4096, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  EXPECT_THROW(open(), srv::StoreError);
}

TEST_F(SqliteTest, SecondOpenOfTheSameFileIsRefused) {
  auto first = open();
  try {
    open();
    FAIL() << "opened twice";
  } catch (const srv::StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("locked"), std::string::npos) << e.what();
  }
}

TEST_F(SqliteTest, ManyThreadsWaitWhileTheLoopSubmits) {
  constexpr std::uint64_t kJobs = 3000;
  std::vector<std::shared_ptr<srv::Job>> jobs;
  for (std::uint64_t id = 1; id <= kJobs; ++id)
    jobs.push_back(make_job(id, {{"value", id}}));
  {
    auto b = open();
    std::vector<std::atomic<srv::WriteTicket>> tickets(kJobs);
    std::vector<std::thread> waiters;
    std::atomic<int> acked{0};
    for (std::uint64_t w = 0; w < 8; ++w) {
      waiters.emplace_back([&, w] {
        for (std::uint64_t i = w; i < kJobs; i += 8) {
          srv::WriteTicket t = 0;
          while ((t = tickets[i].load()) == 0)
            std::this_thread::yield();
          if (b->wait_committed(t, 10s)) ++acked;
        }
      });
    }
    for (std::uint64_t i = 0; i < kJobs; ++i)
      tickets[i] = b->insert(*jobs[i]);
    for (std::thread& t : waiters)
      t.join();
    EXPECT_EQ(acked, static_cast<int>(kJobs));
    // Group commits: far fewer transactions than jobs.
    EXPECT_LT(b->stats().commits, kJobs);
  }
  EXPECT_EQ(open()->counts()[static_cast<std::size_t>(JobState::pending)], kJobs);
}

// A batch submit's inserts are one transaction: the writer never takes part of them, so a crash
// keeps all of a batch or none, and readers never see part of it.
TEST_F(SqliteTest, InsertAllIsCommittedAsOneTransaction) {
  constexpr std::uint64_t kBatches = 20;
  constexpr std::uint64_t kBatch = 500;
  auto b = open();
  std::uint64_t id = 0;
  for (std::uint64_t n = 0; n < kBatches; ++n) {
    std::vector<std::shared_ptr<srv::Job>> jobs;
    std::vector<const srv::Job*> rows;
    for (std::uint64_t i = 0; i < kBatch; ++i) {
      jobs.push_back(make_job(++id, {{"value", id}}));
      rows.push_back(jobs.back().get());
    }
    const srv::BackendStats before = b->stats();
    const srv::WriteTicket ticket = b->insert_all(rows);
    ASSERT_TRUE(b->wait_committed(ticket, 10s));
    const srv::BackendStats after = b->stats();
    EXPECT_EQ(after.commits - before.commits, 1u) << "batch " << n;
    EXPECT_EQ(after.rows - before.rows, kBatch) << "batch " << n;
    EXPECT_TRUE(b->get(id - kBatch + 1));
    EXPECT_TRUE(b->get(id));
  }
  EXPECT_EQ(b->counts()[static_cast<std::size_t>(JobState::pending)], kBatches * kBatch);
}

TEST_F(SqliteTest, ExecOutputRoundTripsByteForByte) {
  auto job = exec_job_with_output();
  {
    auto b = open();
    b->insert(*make_job(7, {{"exec", {"sh"}}}));
    b->update(*job, JobState::pending, true);
    b->close();
  }
  auto b = open();
  std::shared_ptr<srv::Job> back = read_back(*b, 7);
  ASSERT_TRUE(back);
  ASSERT_TRUE(back->step(0).exec());
  const srv::ExecOutput& was = *job->step(0).exec();
  const srv::ExecOutput& is = *back->step(0).exec();
  EXPECT_EQ(is.pid, 4242);
  EXPECT_EQ(is.exit_code, 1);
  EXPECT_FALSE(is.running);
  EXPECT_EQ(is.out.kept(), was.out.kept());
  EXPECT_EQ(is.out.tail(), was.out.tail());
  EXPECT_EQ(is.out.tail().substr(srv::kTailBytes - 7), "the end");
  EXPECT_EQ(is.out.bytes(), was.out.bytes());
  EXPECT_TRUE(is.out.truncated());
  EXPECT_EQ(is.err.kept(), "short\n");
  EXPECT_EQ(is.err.tail(), "short\n");
  EXPECT_FALSE(is.err.truncated());
  EXPECT_EQ(is.out.published, is.out.kept().size());
}

TEST_F(SqliteTest, ARequeuedJobClearsAnEarlierRunsOutputAndSteps) {
  auto job = exec_job_with_output();
  {
    auto b = open();
    b->insert(*make_job(7, {{"exec", {"sh"}}}));
    b->update(*job, JobState::pending, true);
    job->requeue(0);  // a retry: pending, no output yet
    b->update(*job, JobState::running, false);
    b->close();
  }
  auto b = open();
  std::shared_ptr<srv::Job> back = read_back(*b, 7);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->state(), JobState::pending);
  EXPECT_FALSE(back->step(0).exec());
  EXPECT_EQ(back->step(0).state(), JobState::pending);
}

TEST_F(SqliteTest, StepsOfARunningJobAreStored) {
  const json spec = {{"sequence", json::array({{{"value", 1}}, {{"sleep", 5}}, {{"value", 2}}})}};
  auto job = make_job(3, spec);
  {
    auto b = open();
    b->insert(*job);
    job->start(1000);
    job->start_step(0, 1000);
    job->start_step(1, 1000);
    job->finish_step(1, JobState::done, 1, std::nullopt, 1001);
    job->start_step(2, 1001);
    b->update(*job, JobState::pending, false);
    b->close();
  }
  std::vector<srv::JobRow> live = open()->load_live();
  ASSERT_EQ(live.size(), 1u);
  std::string why;
  std::shared_ptr<srv::Job> back = srv::job_of(live[0], why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(back->state(), JobState::running);
  EXPECT_EQ(back->step(0).state(), JobState::running);
  EXPECT_EQ(back->step(1).state(), JobState::done);
  EXPECT_EQ(back->step(1).result(), 1);
  EXPECT_EQ(back->step(2).state(), JobState::running);
  EXPECT_EQ(back->step(3).state(), JobState::pending);
}

TEST_F(SqliteTest, RetentionAtOpenTrimsTheLongestFinishedRows) {
  {
    auto b = open();
    srv::WriteTicket last = 0;
    for (std::uint64_t id = 1; id <= 40; ++id) {
      const json spec = {{"value", id}};
      last = b->insert(*make_job(id, spec));
      // Every fourth job is unfinished, which retention never touches.
      if (id % 4 != 0) {
        last =
            b->update(*finished_job(id, spec, JobState::done, 5000 + static_cast<std::int64_t>(id)),
                      JobState::pending, false);
      }
    }
    ASSERT_TRUE(b->wait_committed(last, 10s));
  }
  srv::BackendOptions keep10;
  keep10.retention.keep_finished = 10;
  auto b = open(keep10);
  std::vector<std::uint64_t> finished;
  srv::ListQuery q;
  q.limit = 100;
  q.state = JobState::done;
  for (const srv::JobSummary& s : b->list(q).jobs)
    finished.push_back(s.id);
  EXPECT_EQ(finished, (std::vector<std::uint64_t>{39, 38, 37, 35, 34, 33, 31, 30, 29, 27}));
  EXPECT_EQ(b->counts()[static_cast<std::size_t>(JobState::pending)], 10u);
  EXPECT_GT(b->next_id(), 40u);
}

TEST_F(SqliteTest, AVersion1FileIsMigratedInPlace) {
  // The schema and rows of the daemon before issue 12, as that version wrote them.
  exec_sql(R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE tasks(seq INTEGER PRIMARY KEY, spec TEXT NOT NULL, state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL DEFAULT 0,
  started_ms INTEGER NOT NULL DEFAULT 0, finished_ms INTEGER NOT NULL DEFAULT 0, result TEXT,
  error_type TEXT, error_message TEXT, steps TEXT, output TEXT);
INSERT INTO meta VALUES ('schema', '1'), ('max_seq', '9');
INSERT INTO tasks VALUES (3, '{"name":"build","sequence":[{"value":1}]}', 'done', 1, 10, 11, 12,
  '1', NULL, '', '[["done",1,null,"",11,12],["done",1,null,"",11,12]]', NULL);
INSERT INTO tasks VALUES (5, '{"fail":"boom"}', 'failed', 1, 20, 21, 22, 'null', 'Exception',
  'boom', NULL, NULL);
INSERT INTO tasks VALUES (6, '{"sleep":100,"name":"later"}', 'pending', 0, 30, 0, 0, NULL, NULL,
  '', NULL, NULL);
)sql");
  auto b = open();
  EXPECT_EQ(query_text("SELECT value FROM meta WHERE key = 'schema'"), "7");
  // Version 3: old tasks have no Idempotency-Key.
  EXPECT_EQ(query_text("SELECT count(*) FROM tasks WHERE idempotency_key IS NULL"), "3");
  // Version 4: nor were they interrupted by a restart; and the old file had no heartbeat.
  EXPECT_EQ(query_text("SELECT count(*) FROM tasks WHERE interrupted_ms = 0"), "3");
  EXPECT_EQ(b->last_alive_ms(), std::nullopt);
  // Version 5: nor a run_at (none was delayed).
  EXPECT_EQ(query_text("SELECT count(*) FROM tasks WHERE run_at_ms IS NULL"), "3");
  // Version 6: the live row's queue and priority, from its spec.
  EXPECT_EQ(query_text("SELECT queue || ' ' || priority FROM tasks WHERE seq = 6"), "default 0");
  EXPECT_EQ(b->counts()[static_cast<std::size_t>(JobState::done)], 1u);
  srv::ListQuery by_name;
  by_name.name = "build";
  srv::ListPage page = b->list(by_name);
  ASSERT_EQ(page.jobs.size(), 1u);
  EXPECT_EQ(page.jobs[0].id, 3u);
  EXPECT_EQ(page.jobs[0].kind, "sequence");
  EXPECT_EQ(page.jobs[0].result, 1);
  srv::ListQuery failed;
  failed.state = JobState::failed;
  page = b->list(failed);
  ASSERT_EQ(page.jobs.size(), 1u);
  EXPECT_EQ(page.jobs[0].kind, "fail");
  EXPECT_EQ(page.jobs[0].error->message, "boom");
  std::shared_ptr<srv::Job> build = read_back(*b, 3);
  ASSERT_TRUE(build);
  EXPECT_EQ(build->step(1).result(), 1);
  ASSERT_EQ(b->load_live().size(), 1u);
  EXPECT_EQ(b->next_id(), 10u);  // after the highest id the old file handed out
}

// A scheduled job keeps its state and run_at across a reopen, counts as live (never trimmed by
// retention, loaded at start), and lists by state.
TEST_F(SqliteTest, AScheduledJobIsStoredWithItsRunAt) {
  auto job = make_job(4, {{"value", 1}, {"delay", 60}});
  job->schedule(1'900'000'000'000);
  {
    auto b = open();
    b->insert(*job);
    b->insert(*make_job(5, {{"value", 2}}));
    b->update(*finished_job(5, {{"value", 2}}, JobState::done), JobState::pending, false);
    b->close();
  }
  srv::BackendOptions keep_none;
  keep_none.retention.keep_finished = 0;
  auto b = open(keep_none);
  EXPECT_FALSE(b->get(5));  // trimmed: finished
  std::vector<srv::JobRow> live = b->load_live();
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].state, JobState::scheduled);
  EXPECT_EQ(live[0].run_at_ms, 1'900'000'000'000);
  std::string why;
  std::shared_ptr<srv::Job> back = srv::job_of(live[0], why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(back->run_at_ms(), 1'900'000'000'000);
  EXPECT_EQ(b->counts()[static_cast<std::size_t>(JobState::scheduled)], 1u);
  srv::ListQuery scheduled;
  scheduled.state = JobState::scheduled;
  srv::ListPage page = b->list(scheduled);
  ASSERT_EQ(page.jobs.size(), 1u);
  EXPECT_EQ(page.jobs[0].run_at_ms, 1'900'000'000'000);
  // Due: pending, run_at kept.
  back->make_due();
  ASSERT_TRUE(b->wait_committed(b->update(*back, JobState::scheduled, false), 10s));
  EXPECT_EQ(query_text("SELECT state || ' ' || run_at_ms FROM tasks WHERE seq = 4"),
            "pending 1900000000000");
}

// The statements that trim finished rows and find the next due ones can use their partial
// indexes: the index's WHERE must be implied by the query's, which SQLite checks term by term.
TEST_F(SqliteTest, TrimAndDueQueriesUseTheirIndexes) {
  open().reset();
  const auto plan = [&](const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(db_path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &s, nullptr),
              SQLITE_OK);
    std::string out;
    while (sqlite3_step(s) == SQLITE_ROW)
      out += reinterpret_cast<const char*>(sqlite3_column_text(s, 3));
    sqlite3_finalize(s);
    sqlite3_close(db);
    return out;
  };
  EXPECT_NE(plan("SELECT seq FROM tasks WHERE state NOT IN ('scheduled', 'pending', 'running') "
                 "ORDER BY finished_ms, seq LIMIT 10")
                .find("tasks_finished"),
            std::string::npos);
  // Without ANALYZE figures SQLite picks tasks_state for "state = ?": a claim query names the
  // index (INDEXED BY fails to prepare if the index cannot serve the query).
  EXPECT_NE(plan("SELECT seq FROM tasks INDEXED BY tasks_run_at WHERE state = 'scheduled' "
                 "ORDER BY run_at_ms, seq LIMIT 10")
                .find("tasks_run_at"),
            std::string::npos);
  EXPECT_NE(plan("SELECT seq FROM tasks INDEXED BY tasks_claim WHERE state = 'pending' AND "
                 "queue = 'builds' ORDER BY priority DESC, seq LIMIT 10")
                .find("tasks_claim"),
            std::string::npos);
}

// A job's queue and priority are columns; settings (schedules, queues) are rows beside the jobs,
// and a schedule's fire is written in the transaction of its run.
TEST_F(SqliteTest, QueuePrioritiesAndSettingsAreStored) {
  {
    auto b = open();
    b->insert(*make_job(1, {{"value", 1}, {"queue", "builds"}, {"priority", 7}}));
    srv::SettingRow schedule{srv::SettingKind::schedule, "nightly", R"({"x":1})", 1234, false};
    srv::SettingRow queue{srv::SettingKind::queue, "builds", R"({"max_running":2})", 0, false};
    b->put_setting(queue);
    b->put_setting({srv::SettingKind::queue, "gone", "{}", 0, false});
    b->put_setting({srv::SettingKind::queue, "gone", "", 0, true});
    ASSERT_TRUE(b->wait_committed(b->insert_fired(*make_job(2, {{"value", 2}}), schedule), 10s));
    b->close();
  }
  EXPECT_EQ(query_text("SELECT queue || ' ' || priority FROM tasks WHERE seq = 1"), "builds 7");
  EXPECT_EQ(query_text("SELECT queue || ' ' || priority FROM tasks WHERE seq = 2"), "default 0");
  auto b = open();
  const std::vector<srv::SettingRow> schedules = b->load_settings(srv::SettingKind::schedule);
  ASSERT_EQ(schedules.size(), 1u);
  EXPECT_EQ(schedules[0].name, "nightly");
  EXPECT_EQ(schedules[0].body, R"({"x":1})");
  EXPECT_EQ(schedules[0].fired_ms, 1234);
  const std::vector<srv::SettingRow> queues = b->load_settings(srv::SettingKind::queue);
  ASSERT_EQ(queues.size(), 1u);
  EXPECT_EQ(queues[0].name, "builds");
  EXPECT_TRUE(b->get(2));
}

// The heartbeat (docs/dashboard-api.md section 3) is one row in meta, written with a commit, and
// what the next open finds is what recovery ends interrupted runs at.
TEST_F(SqliteTest, TheHeartbeatIsStoredWithACommitAndFoundByTheNextOpen) {
  std::int64_t before = 0;
  std::int64_t after = 0;
  {
    auto b = open();
    EXPECT_EQ(b->last_alive_ms(), std::nullopt);  // a new file
    const srv::WriteTicket t = b->insert(*make_job(1, {{"sleep", 9}}));
    ASSERT_TRUE(b->wait_committed(t, 10s));
    EXPECT_EQ(query_text("SELECT count(*) FROM meta WHERE key = 'alive_ms'"), "0");
    const std::uint64_t commits = b->stats().commits;
    before = srv::wall_ms();
    b->mark_alive();  // alone: it makes a commit of its own
    // Committed once a later write is: the writer commits in order.
    auto job = make_job(1, {{"sleep", 9}});
    job->start(before);
    ASSERT_TRUE(b->wait_committed(b->update(*job, JobState::pending, false), 10s));
    after = srv::wall_ms();
    EXPECT_GE(b->stats().commits, commits + 1);
    const std::string stored = query_text("SELECT value FROM meta WHERE key = 'alive_ms'");
    ASSERT_FALSE(stored.empty());
    EXPECT_GE(std::stoll(stored), before);
    EXPECT_LE(std::stoll(stored), after);
    // While open, last_alive_ms() stays what the previous run left.
    EXPECT_EQ(b->last_alive_ms(), std::nullopt);
  }
  auto b = open();
  ASSERT_TRUE(b->last_alive_ms());
  EXPECT_GE(*b->last_alive_ms(), before);
  EXPECT_LE(*b->last_alive_ms(), after);
}

TEST_F(SqliteTest, AnInterruptedJobKeepsWhenTheRestartFoundIt) {
  auto job = make_job(2, {{"sleep", 9}});
  {
    auto b = open();
    b->insert(*job);
    job->start(1000);
    job->start_step(0, 1000);
    job->interrupt(3600, 90'000);
    ASSERT_TRUE(b->wait_committed(b->update(*job, JobState::running, false), 10s));
  }
  auto b = open();
  std::shared_ptr<srv::Job> back = read_back(*b, 2);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->state(), JobState::interrupted);
  EXPECT_EQ(back->finished_ms(), 3600);
  EXPECT_EQ(back->interrupted_at_ms(), 90'000);
  EXPECT_EQ(back->step(0).finished_ms(), 3600);
}

TEST_F(SqliteTest, AFileOfANewerSchemaIsRefused) {
  open().reset();
  exec_sql("UPDATE meta SET value = '99' WHERE key = 'schema'");
  try {
    open();
    FAIL() << "opened a newer file";
  } catch (const srv::StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
  }
}

namespace {

// The bytes this process has caused to be written to storage so far (/proc/self/io).
std::uint64_t write_bytes() {
  std::ifstream io("/proc/self/io");
  std::string key;
  std::uint64_t value = 0;
  while (io >> key >> value) {
    if (key == "write_bytes:") return value;
  }
  return 0;
}

// A running job of `steps` exec steps (a sequence), at its first step.
std::shared_ptr<srv::Job> exec_sequence(std::uint64_t id, std::size_t steps) {
  json list = json::array();
  for (std::size_t i = 0; i < steps; ++i)
    list.push_back({{"exec", {"sh"}}});
  auto job = make_job(id, {{"sequence", list}});
  job->start(1000);
  job->start_step(0, 1000);
  return job;
}

// Step `index` runs and ends with `bytes` bytes of stdout.
void end_exec_step(srv::Job& job, std::size_t index, std::size_t bytes) {
  job.start_step(index, 1000);
  srv::ExecOutput& e = job.start_exec(index);
  e.pid = static_cast<int>(index);
  e.out.append(std::string(bytes, static_cast<char>('a' + index % 26)));
  e.exit_code = 0;
  job.finish_step(index, JobState::done, json(0), std::nullopt, 1001);
}

}  // namespace

// Issue 10: 20 steps of 256 KiB of output each, ending one by one with a commit each, write each
// step's output once. Before, each step's end wrote every ended step's output again: 210 steps'
// worth (10.5 times the output) went into the task's row, and through the log and the
// checkpoint twice that onto the disk.
TEST_F(SqliteTest, EachStepsOutputIsWrittenOnceNotAtEveryStepsEnd) {
  constexpr std::size_t kSteps = 20;
  constexpr std::size_t kBytes = 256 * 1024;
  constexpr std::uint64_t kOutput = kSteps * kBytes;
  auto b = open();
  auto job = exec_sequence(1, kSteps);
  ASSERT_TRUE(b->wait_committed(b->insert(*job), 10s));
  ASSERT_TRUE(b->wait_committed(b->update(*job, JobState::pending, false), 10s));
  const std::uint64_t disk_before = write_bytes();
  for (std::size_t i = 1; i <= kSteps; ++i) {
    end_exec_step(*job, i, kBytes);
    ASSERT_TRUE(b->wait_committed(b->update(*job, JobState::running, true), 10s));
  }
  job->finish_step(0, JobState::done, json(0), std::nullopt, 1002);
  job->finish(JobState::done, json(0), std::nullopt, 1002);
  ASSERT_TRUE(b->wait_committed(b->update(*job, JobState::running, true), 10s));
  const std::uint64_t disk = write_bytes() - disk_before;
  const std::uint64_t stored = b->stats().output_bytes;
  std::cout << "output " << kOutput << " bytes; written as output " << stored
            << " bytes; written to disk " << disk << " bytes ("
            << static_cast<double>(disk) / kOutput << " times the output)\n";
  EXPECT_GE(stored, kOutput);
  EXPECT_LT(stored, kOutput + kSteps * 64);  // each step's once, with a few bytes of framing
  // Each byte goes to the disk twice, into the log and at a checkpoint into the file (the old
  // layout's figure here: 20 times the output). /proc/self/io counts a page once while it stays
  // dirty, so this is an upper bound.
  EXPECT_LT(disk, 3 * kOutput);
  EXPECT_EQ(query_text("SELECT count(*) FROM task_outputs WHERE seq = 1"), std::to_string(kSteps));
  std::shared_ptr<srv::Job> back = read_back(*b, 1);
  ASSERT_TRUE(back);
  for (std::size_t i = 1; i <= kSteps; ++i) {
    ASSERT_TRUE(back->step(i).exec()) << i;
    EXPECT_EQ(back->step(i).exec()->out.kept(), job->step(i).exec()->out.kept()) << i;
  }
}

// A task's outputs go with it: a DELETE, and retention.
TEST_F(SqliteTest, OutputsAreDeletedWithTheirTask) {
  {
    auto b = open();
    for (std::uint64_t id = 1; id <= 3; ++id) {
      auto job = exec_sequence(id, 2);
      b->insert(*job);
      end_exec_step(*job, 1, 10);
      end_exec_step(*job, 2, 10);
      job->finish_step(0, JobState::done, json(0), std::nullopt, 1002);
      job->finish(JobState::done, json(0), std::nullopt, 1002 + static_cast<std::int64_t>(id));
      b->update(*job, JobState::pending, true);
    }
    ASSERT_TRUE(b->wait_committed(b->erase(2, JobState::done), 10s));
    EXPECT_EQ(query_text("SELECT group_concat(seq) FROM (SELECT DISTINCT seq FROM task_outputs)"),
              "1,3");
  }
  srv::BackendOptions keep1;
  keep1.retention.keep_finished = 1;
  auto b = open(keep1);  // retention at open removes task 1
  EXPECT_FALSE(b->get(1));
  EXPECT_EQ(query_text("SELECT group_concat(seq) FROM (SELECT DISTINCT seq FROM task_outputs)"),
            "3");
  EXPECT_EQ(query_text("SELECT count(*) FROM task_outputs"), "2");
}

// A file of schema 6 (made by that schema's SQL) held each task's exec output in one value of its
// row, every step's: migrated, the values are kept (as the rows of step -1) and read back, a
// running task's new step adds its own row beside them, and the column is gone.
TEST_F(SqliteTest, AVersion6FilesOutputsAreReadableAfterTheMigration) {
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
    EXPECT_EQ(srv::migrate_schema(db, db_path(), 6), 0);
    sqlite3_close(db);
  }
  // As the old writer made it: per ended step [index, pid, exit code, signal, stdout, stderr],
  // each stream [kept, tail or null, bytes], as MessagePack.
  const auto stream = [](const std::string& kept) {
    return json::array({kept, nullptr, kept.size()});
  };
  const json old_output = json::array(
      {json::array({1, 4242, 0, 0, stream("step one\n"), stream("")}),
       json::array({2, 4243, 3, 0, stream(std::string("\xff bytes", 7)), stream("oops\n")})});
  const std::vector<std::uint8_t> blob = json::to_msgpack(old_output);
  std::ostringstream hex;
  for (std::uint8_t c : blob)
    hex << "0123456789abcdef"[c >> 4] << "0123456789abcdef"[c & 15];
  const std::string spec =
      R"({"sequence":[{"exec":["a"]},{"exec":["b"]},{"exec":["c"]}],"name":"old"})";
  exec_sql(
      "INSERT INTO tasks(seq, spec, name, kind, state, attempts, created_ms, started_ms, "
      "steps, output) VALUES (5, '" +
      spec +
      "', 'old', 'sequence', 'running', 1, 10, 11, "
      "'[[\"running\",null,null,\"\",11,0],[\"done\",null,null,\"\",11,12],"
      "[\"failed\",null,\"ExecError\",\"x\",12,13]]', x'" +
      hex.str() +
      "'),"
      // An exec task the old writer stored before any step had output: an empty array.
      "(6, '{\"exec\":[\"d\"]}', '', 'exec', 'pending', 0, 20, 0, NULL, x'90')");
  auto b = open();
  EXPECT_EQ(query_text("SELECT value FROM meta WHERE key = 'schema'"), "7");
  EXPECT_EQ(query_text("SELECT group_concat(seq || ':' || step) FROM task_outputs"), "5:-1");
  EXPECT_EQ(query_text("SELECT count(*) FROM pragma_table_info('tasks') WHERE name = 'output'"),
            "0");
  std::vector<srv::JobRow> live = b->load_live();
  ASSERT_EQ(live.size(), 2u);
  std::shared_ptr<srv::Job> job = test_support::job_with_legacy_outputs(live[0]);
  ASSERT_TRUE(job);
  // The task goes on: its last step's output is a row of its own; the old ones are not written.
  end_exec_step(*job, 3, 5);
  ASSERT_TRUE(b->wait_committed(b->update(*job, JobState::running, true), 10s));
  EXPECT_EQ(std::to_string(b->stats().output_bytes),
            query_text("SELECT length(body) FROM task_outputs WHERE seq = 5 AND step = 3"));
  std::shared_ptr<srv::Job> back = read_back(*b, 5);
  ASSERT_TRUE(back);
  ASSERT_TRUE(back->step(1).exec());
  EXPECT_EQ(back->step(1).exec()->out.kept(), "step one\n");
  ASSERT_TRUE(back->step(2).exec());
  EXPECT_EQ(back->step(2).exec()->err.kept(), "oops\n");
  ASSERT_TRUE(back->step(3).exec());
  EXPECT_EQ(back->step(3).exec()->out.kept(), "ddddd");
  // The task with no output has none.
  std::shared_ptr<srv::Job> empty = read_back(*b, 6);
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->step(0).exec());
}
