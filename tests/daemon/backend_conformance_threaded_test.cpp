// One suite for every JobBackend: what the service and the HTTP threads rely on, whichever
// backend keeps the jobs. Adding a backend is one line: its factory in `Backends` below.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "job_factory.hpp"
#include "pg_test_db.hpp"
#include "uasyncd/store/job_backend.hpp"

namespace srv = uasyncd::server;
using nlohmann::json;
using srv::JobState;
using namespace std::chrono_literals;

namespace {

struct MemoryBackendFactory {
  static constexpr bool kDurable = false;
  static std::unique_ptr<srv::JobBackend> open(const std::string&, srv::BackendOptions o) {
    return srv::make_memory_backend(std::move(o));
  }
};

struct SqliteBackendFactory {
  static constexpr bool kDurable = true;
  static std::unique_ptr<srv::JobBackend> open(const std::string& dir, srv::BackendOptions o) {
    srv::SqliteOptions sqlite;
    sqlite.dir = dir;
    sqlite.full_sync = false;  // the tests need no power-cut safety
    return srv::open_sqlite_backend(sqlite, std::move(o));
  }
};

template <class Factory>
class BackendConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/uasyncd-backend-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    backend_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  srv::JobBackend& open(srv::BackendOptions options = {}) {
    options.on_removed = [this](std::span<const srv::RemovedJob> jobs) {
      for (const srv::RemovedJob& j : jobs) {
        removed_.push_back(j.id);
        removed_states_.push_back(j.state);
      }
    };
    backend_.reset();
    backend_ = Factory::open(dir_, std::move(options));
    return *backend_;
  }
  // Writes and waits for the commit.
  void commit(srv::WriteTicket ticket) { ASSERT_TRUE(backend_->wait_committed(ticket, 10s)); }
  std::vector<std::uint64_t> ids(const srv::ListPage& page) {
    std::vector<std::uint64_t> out;
    for (const srv::JobSummary& s : page.jobs)
      out.push_back(s.id);
    return out;
  }
  std::uint64_t count(JobState s) { return backend_->counts()[static_cast<std::size_t>(s)]; }

  std::string dir_;
  std::unique_ptr<srv::JobBackend> backend_;
  std::vector<std::uint64_t> removed_;    // written by the writer thread before a commit is seen
  std::vector<JobState> removed_states_;  // the state each had
};

// A database per test directory on the tests' PostgreSQL: a reopen in the same test finds the
// same database.
struct PostgresBackendFactory {
  static constexpr bool kDurable = true;
  static std::unique_ptr<srv::JobBackend> open(const std::string& dir, srv::BackendOptions o) {
    auto [it, fresh] = databases_.try_emplace(dir);
    if (fresh) {
      // Appended piece by piece: g++ 12 at -O3 warns falsely on "t_" + std::to_string(n).
      it->second = "t_";
      it->second += std::to_string(::getpid());
      it->second += '_';
      it->second += std::to_string(databases_.size());
      uasyncd::test::pg_test_database(it->second);
    }
    srv::PostgresOptions postgres;
    postgres.url = uasyncd::test::pg_test_url(it->second);
    postgres.full_sync = false;
    return srv::open_postgres_backend(postgres, std::move(o));
  }
  static inline std::map<std::string, std::string> databases_;
};

using Backends =
    ::testing::Types<MemoryBackendFactory, SqliteBackendFactory, PostgresBackendFactory>;
TYPED_TEST_SUITE(BackendConformance, Backends);

}  // namespace

TYPED_TEST(BackendConformance, IdsAreFreshAndIncreasing) {
  srv::JobBackend& b = this->open();
  const std::uint64_t first = b.next_id();
  EXPECT_GT(first, 0u);
  EXPECT_EQ(b.next_id(), first + 1);
  EXPECT_EQ(b.next_id(), first + 2);
}

TYPED_TEST(BackendConformance, AnInsertedJobIsReadBackWhole) {
  srv::JobBackend& b = this->open();
  auto job = make_job(b.next_id(), {{"name", "first"}, {"sleep", 1}});
  this->commit(b.insert(*job));
  std::optional<srv::JobRow> row = b.get(job->id());
  ASSERT_TRUE(row);
  EXPECT_EQ(row->name, "first");
  EXPECT_EQ(row->kind, "sleep");
  EXPECT_EQ(row->state, JobState::pending);
  EXPECT_EQ(row->created_ms, 1000);
  std::string why;
  std::shared_ptr<srv::Job> back = srv::job_of(*row, why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(back->spec_json(), job->spec_json());
  EXPECT_FALSE(b.get(job->id() + 1000));
  EXPECT_EQ(this->count(JobState::pending), 1u);
}

TYPED_TEST(BackendConformance, TransitionsMoveTheCountsAndShowInReads) {
  srv::JobBackend& b = this->open();
  auto job = make_job(b.next_id(), {{"value", 42}});
  b.insert(*job);
  job->start(1500);
  b.update(*job, JobState::pending, false);
  EXPECT_EQ(this->count(JobState::pending), 0u);
  EXPECT_EQ(this->count(JobState::running), 1u);
  job->finish_step(0, JobState::done, 42, std::nullopt, 1600);
  job->finish(JobState::done, 42, std::nullopt, 1600);
  this->commit(b.update(*job, JobState::running, false));
  EXPECT_EQ(this->count(JobState::running), 0u);
  EXPECT_EQ(this->count(JobState::done), 1u);
  std::optional<srv::JobRow> row = b.get(job->id());
  ASSERT_TRUE(row);
  EXPECT_EQ(row->state, JobState::done);
  EXPECT_EQ(row->attempts, 1);
  EXPECT_EQ(row->finished_ms, 1600);
  std::string why;
  std::shared_ptr<srv::Job> back = srv::job_of(*row, why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(back->result(), 42);
  EXPECT_EQ(back->step(0).state(), JobState::done);
  EXPECT_EQ(srv::summary_json(srv::summary_of(*row)), srv::summary_json(*job));
}

TYPED_TEST(BackendConformance, ListsNewestFirstWithCursorAndFilters) {
  srv::JobBackend& b = this->open();
  srv::WriteTicket last = 0;
  for (int i = 0; i < 10; ++i) {
    const std::uint64_t id = b.next_id();
    const json spec = {{"name", i % 2 == 0 ? "even" : "odd"}, {"value", i}};
    if (i % 3 == 0) {
      b.insert(*make_job(id, spec));
      last = b.update(*finished_job(id, spec, JobState::failed), JobState::pending, false);
    } else {
      last = b.insert(*make_job(id, spec));
    }
  }
  this->commit(last);
  srv::ListQuery q;
  q.limit = 4;
  srv::ListPage page = b.list(q);
  EXPECT_EQ(this->ids(page), (std::vector<std::uint64_t>{10, 9, 8, 7}));
  ASSERT_TRUE(page.next_cursor);
  EXPECT_EQ(*page.next_cursor, 7u);
  q.before = page.next_cursor;
  page = b.list(q);
  EXPECT_EQ(this->ids(page), (std::vector<std::uint64_t>{6, 5, 4, 3}));
  q.before = page.next_cursor;
  page = b.list(q);
  EXPECT_EQ(this->ids(page), (std::vector<std::uint64_t>{2, 1}));
  EXPECT_FALSE(page.next_cursor);

  srv::ListQuery failed;
  failed.state = JobState::failed;
  EXPECT_EQ(this->ids(b.list(failed)), (std::vector<std::uint64_t>{10, 7, 4, 1}));
  failed.limit = 2;
  page = b.list(failed);
  EXPECT_EQ(this->ids(page), (std::vector<std::uint64_t>{10, 7}));
  failed.before = page.next_cursor;
  EXPECT_EQ(this->ids(b.list(failed)), (std::vector<std::uint64_t>{4, 1}));

  srv::ListQuery odd;
  odd.name = "odd";
  EXPECT_EQ(this->ids(b.list(odd)), (std::vector<std::uint64_t>{10, 8, 6, 4, 2}));
  odd.state = JobState::failed;
  EXPECT_EQ(this->ids(b.list(odd)), (std::vector<std::uint64_t>{10, 4}));
  srv::ListQuery nobody;
  nobody.name = "nobody";
  EXPECT_TRUE(b.list(nobody).jobs.empty());
}

TYPED_TEST(BackendConformance, SearchIsASubstringOfTheNameIgnoringAsciiCase) {
  srv::JobBackend& b = this->open();
  const std::vector<std::string> names{"Nightly JOB 1", "job-2",     "other",
                                       "\xc3\x89JOB",   "100%_done", "1000 done"};
  srv::WriteTicket last = 0;
  for (const std::string& name : names) {
    const std::uint64_t id = b.next_id();
    const json spec = {{"name", name}, {"value", 1}};
    b.insert(*make_job(id, spec));
    last = b.update(*finished_job(id, spec, id % 2 == 0 ? JobState::failed : JobState::done),
                    JobState::pending, false);
  }
  this->commit(last);
  const auto search = [&](std::string text, std::optional<JobState> state = std::nullopt) {
    srv::ListQuery q;
    q.name_contains = std::move(text);
    q.state = state;
    q.count = true;
    srv::ListPage page = b.list(q);
    EXPECT_EQ(page.total, page.jobs.size());
    return this->ids(page);
  };
  EXPECT_EQ(search("job"), (std::vector<std::uint64_t>{4, 2, 1}));
  EXPECT_EQ(search("JoB-"), (std::vector<std::uint64_t>{2}));
  // Only A-Z fold: the E with an accent matches itself, not its lower case.
  EXPECT_EQ(search("\xc3\x89job"), (std::vector<std::uint64_t>{4}));
  EXPECT_TRUE(search("\xc3\xa9job").empty());
  // Pattern characters of LIKE are plain bytes here.
  EXPECT_EQ(search("%_"), (std::vector<std::uint64_t>{5}));
  EXPECT_EQ(search("0 d"), (std::vector<std::uint64_t>{6}));
  EXPECT_EQ(search("job", JobState::failed), (std::vector<std::uint64_t>{4, 2}));
  srv::ListQuery both;
  both.name = "job-2";
  both.name_contains = "JOB";
  EXPECT_EQ(this->ids(b.list(both)), (std::vector<std::uint64_t>{2}));
  both.name = "job";
  EXPECT_TRUE(b.list(both).jobs.empty());
}

TYPED_TEST(BackendConformance, PagesAfterAnIdAndTheOldestPageWithTotalsAndOffsets) {
  srv::JobBackend& b = this->open();
  srv::WriteTicket last = 0;
  for (int i = 1; i <= 131; ++i) {
    const std::uint64_t id = b.next_id();
    last = b.insert(*make_job(id, {{"name", i <= 130 ? "Page me" : "not me"}, {"value", i}}));
  }
  this->commit(last);
  srv::ListQuery q;
  q.name_contains = "page me";
  q.limit = 50;
  q.count = true;
  const auto range = [](std::uint64_t from, std::uint64_t to) {  // from down to `to`
    std::vector<std::uint64_t> out;
    for (std::uint64_t i = from; i >= to; --i)
      out.push_back(i);
    return out;
  };
  srv::ListPage newest = b.list(q);
  EXPECT_EQ(this->ids(newest), range(130, 81));
  EXPECT_EQ(newest.total, 130u);
  EXPECT_FALSE(newest.total_capped);
  EXPECT_EQ(newest.offset, 0u);
  EXPECT_FALSE(newest.prev_cursor);
  EXPECT_EQ(newest.next_cursor, 81u);

  srv::ListQuery older = q;
  older.before = 81;
  srv::ListPage second = b.list(older);
  EXPECT_EQ(this->ids(second), range(80, 31));
  EXPECT_EQ(second.offset, 50u);
  EXPECT_EQ(second.prev_cursor, 80u);
  EXPECT_EQ(second.next_cursor, 31u);

  srv::ListQuery oldest = q;
  oldest.last = true;
  srv::ListPage last_page = b.list(oldest);
  EXPECT_EQ(this->ids(last_page), range(30, 1));
  EXPECT_EQ(last_page.offset, 100u);
  EXPECT_EQ(last_page.total, 130u);
  EXPECT_EQ(last_page.prev_cursor, 30u);
  EXPECT_FALSE(last_page.next_cursor);

  // "Newer" from the oldest page: the 50 just newer than it.
  srv::ListQuery newer = q;
  newer.after = 30;
  srv::ListPage back = b.list(newer);
  EXPECT_EQ(this->ids(back), range(80, 31));
  EXPECT_EQ(back.offset, 50u);
  EXPECT_EQ(back.prev_cursor, 80u);
  EXPECT_EQ(back.next_cursor, 31u);
  // Fewer than a page newer: the newest page, full.
  newer.after = 100;
  srv::ListPage top = b.list(newer);
  EXPECT_EQ(this->ids(top), range(130, 81));
  EXPECT_FALSE(top.prev_cursor);
  EXPECT_EQ(top.offset, 0u);

  // An empty page past the oldest: the offset counts every match at the cursor or newer.
  srv::ListQuery past = q;
  past.before = 1;
  srv::ListPage empty = b.list(past);
  EXPECT_TRUE(empty.jobs.empty());
  EXPECT_EQ(empty.offset, 130u);
  EXPECT_FALSE(empty.prev_cursor);

  // Totals by state alone and of everything come from the kept counts.
  srv::ListQuery all;
  all.count = true;
  all.limit = 10;
  EXPECT_EQ(b.list(all).total, 131u);
  all.state = JobState::pending;
  EXPECT_EQ(b.list(all).total, 131u);
  all.state = JobState::done;
  srv::ListPage none = b.list(all);
  EXPECT_EQ(none.total, 0u);
  EXPECT_TRUE(none.jobs.empty());
  // Without `count`, the positions are the same and the cursors too.
  srv::ListQuery uncounted = older;
  uncounted.count = false;
  srv::ListPage same = b.list(uncounted);
  EXPECT_EQ(this->ids(same), range(80, 31));
  EXPECT_EQ(same.prev_cursor, 80u);
  EXPECT_EQ(same.next_cursor, 31u);
}

TYPED_TEST(BackendConformance, EraseForgetsAJob) {
  srv::JobBackend& b = this->open();
  const json spec = {{"value", 1}};
  auto job = finished_job(b.next_id(), spec, JobState::done);
  b.insert(*make_job(job->id(), spec));
  this->commit(b.update(*job, JobState::pending, false));
  this->commit(b.erase(job->id(), JobState::done));
  EXPECT_FALSE(b.get(job->id()));
  EXPECT_EQ(this->count(JobState::done), 0u);
  EXPECT_TRUE(b.list({}).jobs.empty());
  EXPECT_TRUE(this->removed_.empty());  // an erase is not retention
}

TYPED_TEST(BackendConformance, AWriteOfAnEarlierAttemptIsFencedOut) {
  srv::JobBackend& b = this->open();
  const json spec = {{"fail", "x"}, {"retries", 1}};
  const std::uint64_t id = b.next_id();
  b.insert(*make_job(id, spec));
  // The second attempt runs (another run, or another daemon, took the job over) ...
  auto second = make_job(id, spec);
  second->restore({JobState::running, 2, 3000, 0, json(), std::nullopt});
  b.update(*second, JobState::pending, false);
  // ... when the first attempt's late outcome arrives.
  auto first = finished_job(id, spec, JobState::failed);
  this->commit(b.update(*first, JobState::running, false));
  std::optional<srv::JobRow> row = b.get(id);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->state, JobState::running);
  EXPECT_EQ(row->attempts, 2);
  EXPECT_EQ(b.stats().fenced, 1u);
}

// Issue 10: each exec step's output is written once, by the write that follows the step's end
// (not again at every later step's end, as one value holding all of them was), and reads back
// whole, after a restart too: from load_live while the task runs, from get once it finished.
TYPED_TEST(BackendConformance, EachExecStepsOutputIsStoredOnceAndReadBackAfterARestart) {
  srv::JobBackend* b = &this->open();
  constexpr std::size_t kSteps = 4;
  json steps = json::array();
  for (std::size_t i = 0; i < kSteps; ++i)
    steps.push_back({{"exec", {"sh"}}});
  auto job = make_job(b->next_id(), {{"sequence", steps}});
  b->insert(*job);
  job->start(1000);
  job->start_step(0, 1000);
  this->commit(b->update(*job, JobState::pending, false));
  const auto out_of = [](std::size_t step) {  // any bytes, not only UTF-8
    return std::string(20'000 * step, static_cast<char>('a' + step)) + "\xff\xfe end";
  };
  std::uint64_t output = 0;
  for (std::size_t i = 1; i <= kSteps; ++i) {
    const auto at = static_cast<std::int64_t>(1000 + i);
    job->start_step(i, at);
    srv::ExecOutput& e = job->start_exec(i);
    e.pid = static_cast<int>(100 + i);
    e.running = true;
    e.out.append(out_of(i));
    this->commit(b->update(*job, JobState::running, false));  // a step change while it runs
    e.err.append("step " + std::to_string(i));
    e.exit_code = 0;
    e.running = false;
    job->finish_step(i, JobState::done, json(i), std::nullopt, at);
    output += e.out.bytes() + e.err.bytes();
    this->commit(b->update(*job, JobState::running, true));
    // This step's output went with this write, and none of the earlier ones again.
    EXPECT_GE(b->stats().output_bytes, output) << i;
    EXPECT_LT(b->stats().output_bytes, output + 64 * i) << i;
  }
  const auto expect_outputs = [&](const srv::Job& back) {
    for (std::size_t i = 1; i <= kSteps; ++i) {
      const srv::ExecOutput* e = back.step(i).exec();
      ASSERT_TRUE(e) << i;
      EXPECT_EQ(e->pid, static_cast<int>(100 + i));
      EXPECT_EQ(e->exit_code, 0);
      EXPECT_FALSE(e->running);
      EXPECT_EQ(e->out.kept(), out_of(i));
      EXPECT_EQ(e->err.kept(), "step " + std::to_string(i));
    }
  };
  std::string why;
  if constexpr (TypeParam::kDurable) {
    b->close();
    b = &this->open();
    std::vector<srv::JobRow> live = b->load_live();
    ASSERT_EQ(live.size(), 1u);
    std::shared_ptr<srv::Job> back = srv::job_of(live[0], why);
    ASSERT_TRUE(back) << why;
    expect_outputs(*back);
  }
  job->finish_step(0, JobState::done, json(kSteps), std::nullopt, 2000);
  job->finish(JobState::done, json(kSteps), std::nullopt, 2000);
  const std::uint64_t before_end = b->stats().output_bytes;
  this->commit(b->update(*job, JobState::running, true));
  EXPECT_EQ(b->stats().output_bytes, before_end);  // nothing new at the end: nothing written
  std::optional<srv::JobRow> row = b->get(job->id());
  ASSERT_TRUE(row);
  EXPECT_EQ(row->outputs.size(), kSteps);  // one per step
  std::shared_ptr<srv::Job> back = srv::job_of(*row, why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(back->state(), JobState::done);
  expect_outputs(*back);
}

// A new run (a retry) shows none of the last run's outputs, only its own.
TYPED_TEST(BackendConformance, ANewRunDropsTheOutputsOfTheLastOne) {
  srv::JobBackend& b = this->open();
  const json spec = {{"sequence", json::array({{{"exec", {"a"}}}, {{"exec", {"b"}}}})},
                     {"retries", 1}};
  auto job = make_job(b.next_id(), spec);
  b.insert(*job);
  const auto run_exec = [&](std::size_t step, const std::string& text) {
    job->start_step(step, 1000);
    job->start_exec(step).out.append(text);
    job->finish_step(step, JobState::done, json(), std::nullopt, 1001);
  };
  job->start(1000);
  job->start_step(0, 1000);
  run_exec(1, "first run, step 1");
  run_exec(2, "first run, step 2");
  this->commit(b.update(*job, JobState::pending, true));
  job->finish(JobState::failed, json(), srv::ErrorInfo{"Exception", "x"}, 1002);
  b.update(*job, JobState::running, true);
  job->requeue(0);
  b.update(*job, JobState::failed, false);  // no output at all: the stored ones go
  job->start(1003);
  job->start_step(0, 1003);
  run_exec(1, "second run");
  this->commit(b.update(*job, JobState::pending, true));
  std::optional<srv::JobRow> row = b.get(job->id());
  ASSERT_TRUE(row);
  std::string why;
  std::shared_ptr<srv::Job> back = srv::job_of(*row, why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(back->attempts(), 2);
  ASSERT_TRUE(back->step(1).exec());
  EXPECT_EQ(back->step(1).exec()->out.kept(), "second run");
  EXPECT_FALSE(back->step(2).exec());
}

// The outputs of a fenced-out write never land with it.
TYPED_TEST(BackendConformance, AFencedOutWritesOutputsAreDropped) {
  srv::JobBackend& b = this->open();
  const json spec = {{"exec", {"sh"}}, {"retries", 1}};
  const std::uint64_t id = b.next_id();
  b.insert(*make_job(id, spec));
  auto second = make_job(id, spec);
  second->restore({JobState::running, 2, 3000, 0, json(), std::nullopt});
  b.update(*second, JobState::pending, false);
  auto first = make_job(id, spec);
  first->start(1000);
  first->start_step(0, 1000);
  first->start_exec(0).out.append("late output of attempt 1");
  this->commit(b.update(*first, JobState::pending, true));
  std::optional<srv::JobRow> row = b.get(id);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->attempts, 2);
  EXPECT_TRUE(row->outputs.empty());
  EXPECT_EQ(b.stats().fenced, 1u);
}

TYPED_TEST(BackendConformance, RetentionKeepsTheNewestFinishedRows) {
  srv::BackendOptions options;
  options.retention.keep_finished = 3;
  srv::JobBackend& b = this->open(options);
  srv::WriteTicket last = 0;
  for (std::int64_t i = 1; i <= 6; ++i) {
    const json spec = {{"value", i}};
    const std::uint64_t id = b.next_id();
    b.insert(*make_job(id, spec));
    last = b.update(*finished_job(id, spec, JobState::done, 10'000 + i), JobState::pending, false);
  }
  // A live job is never retention's.
  last = b.insert(*make_job(b.next_id(), {{"sleep", 1}}));
  this->commit(last);
  EXPECT_EQ(this->ids(b.list({})), (std::vector<std::uint64_t>{7, 6, 5, 4}));
  EXPECT_EQ(this->count(JobState::done), 3u);
  EXPECT_EQ(this->count(JobState::pending), 1u);
  std::vector<std::uint64_t> removed = this->removed_;
  std::sort(removed.begin(), removed.end());
  EXPECT_EQ(removed, (std::vector<std::uint64_t>{1, 2, 3}));
  // Each with the state it had, so that clients can be told (a "removed" event).
  EXPECT_EQ(this->removed_states_, std::vector<JobState>(3, JobState::done));
  EXPECT_EQ(b.stats().removed, 3u);
}

TYPED_TEST(BackendConformance, RetentionByAgeRemovesRowsFinishedLongAgo) {
  srv::BackendOptions options;
  options.retention.keep_for = std::chrono::hours(1);
  srv::JobBackend& b = this->open(options);
  const std::int64_t now = srv::wall_ms();
  const json spec = {{"value", 1}};
  const std::uint64_t old_id = b.next_id();
  b.insert(*make_job(old_id, spec));
  b.update(*finished_job(old_id, spec, JobState::done, now - 2 * 3'600'000), JobState::pending,
           false);
  const std::uint64_t recent_id = b.next_id();
  b.insert(*make_job(recent_id, spec));
  this->commit(b.update(*finished_job(recent_id, spec, JobState::done, now - 60'000),
                        JobState::pending, false));
  // The next write applies it at the latest.
  this->commit(b.insert(*make_job(b.next_id(), {{"sleep", 1}})));
  EXPECT_FALSE(b.get(old_id));
  EXPECT_TRUE(b.get(recent_id));
  EXPECT_EQ(this->count(JobState::done), 1u);
}

TYPED_TEST(BackendConformance, LiveJobsOutliveARestartOfADurableBackend) {
  srv::JobBackend& b = this->open();
  const std::uint64_t pending = b.next_id();
  b.insert(*make_job(pending, {{"value", 1}}));
  auto running = make_job(b.next_id(), {{"sleep", 10}});
  b.insert(*running);
  running->start(1200);
  const std::uint64_t done = b.next_id();
  b.insert(*make_job(done, {{"value", 2}}));
  b.update(*finished_job(done, {{"value", 2}}, JobState::done), JobState::pending, false);
  this->commit(b.update(*running, JobState::pending, false));
  b.close();
  srv::JobBackend& again = this->open();
  std::vector<std::uint64_t> live;
  for (const srv::JobRow& row : again.load_live())
    live.push_back(row.id);
  if constexpr (TypeParam::kDurable) {
    EXPECT_EQ(live, (std::vector<std::uint64_t>{pending, running->id()}));
    EXPECT_GT(again.next_id(), done);  // ids are never handed out twice
    EXPECT_EQ(this->count(JobState::done), 1u);
  } else {
    EXPECT_TRUE(live.empty());
  }
}

// A JSON string may hold NUL and any character; an exec's error may hold bytes that are not
// UTF-8 at all. A store that refused them would fail the whole commit they are in.
TYPED_TEST(BackendConformance, RowsKeepAnyBytesInNamesAndMessages) {
  srv::JobBackend& b = this->open();
  const std::string name("Ab \xc3\xa9\0z", 7);
  auto job = make_job(b.next_id(), {{"name", name}, {"value", 1}});
  b.insert(*job);
  job->start(1500);
  b.update(*job, JobState::pending, false);
  const std::string message("exit \xff\xfe\0 tail", 12);
  job->finish_step(0, JobState::failed, json(), srv::ErrorInfo{"ExecError", message}, 1600);
  job->finish(JobState::failed, json(), srv::ErrorInfo{"ExecError", message}, 1600);
  this->commit(b.update(*job, JobState::running, false));
  std::optional<srv::JobRow> row = b.get(job->id());
  ASSERT_TRUE(row);
  EXPECT_EQ(row->name, name);
  ASSERT_TRUE(row->error);
  EXPECT_EQ(row->error->message, message);
  std::string why;
  std::shared_ptr<srv::Job> back = srv::job_of(*row, why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(back->spec_json(), job->spec_json());
  srv::ListQuery by_name;
  by_name.name = name;
  EXPECT_EQ(this->ids(b.list(by_name)), std::vector<std::uint64_t>{job->id()});
  srv::ListQuery by_part;
  by_part.name_contains = "B \xc3\xa9";  // A-Z folded, other bytes exactly
  EXPECT_EQ(this->ids(b.list(by_part)), std::vector<std::uint64_t>{job->id()});
  by_part.name_contains = "\xc3\x89";  // É is not é: only A-Z fold
  EXPECT_TRUE(b.list(by_part).jobs.empty());
}

// Settings (schedules, queues): written, replaced, deleted, read back by kind; a durable backend
// keeps them across a reopen. A fire and its run are one write.
TYPED_TEST(BackendConformance, SettingsAreKeptByKindAndName) {
  srv::JobBackend& b = this->open();
  b.put_setting({srv::SettingKind::schedule, "nightly", R"({"v":1})", 10, false});
  b.put_setting({srv::SettingKind::schedule, "nightly", R"({"v":2})", 20, false});
  b.put_setting({srv::SettingKind::queue, "nightly", R"({"max_running":1})", 0, false});
  b.put_setting({srv::SettingKind::schedule, "gone", "{}", 0, false});
  b.put_setting({srv::SettingKind::schedule, "gone", "", 0, true});
  auto run = make_job(b.next_id(), {{"value", 1}, {"schedule", "nightly"}});
  // A run changes the schedule's counters only: a shared backend keeps the run of a schedule
  // stored as the firing daemon knows it.
  srv::SettingRow fired{srv::SettingKind::schedule, "nightly", R"({"v":2,"runs":1})", 30, false};
  fired.occurrence = true;
  this->commit(b.insert_fired(*run, fired));
  EXPECT_TRUE(b.get(run->id()));
  EXPECT_EQ(this->count(JobState::pending), 1u);
  // The same occurrence fired again (by another daemon of a cluster): a shared backend drops
  // that run, a backend of one daemon keeps what it is given.
  auto twice = make_job(b.next_id(), {{"value", 1}, {"schedule", "nightly"}});
  this->commit(b.insert_fired(*twice, fired));
  EXPECT_EQ(b.get(twice->id()).has_value(), !b.shared());
  // Nor is a run of a schedule changed meanwhile (another body) kept by a shared backend.
  auto changed = make_job(b.next_id(), {{"value", 1}, {"schedule", "nightly"}});
  srv::SettingRow stale{srv::SettingKind::schedule, "nightly", R"({"v":1,"runs":2})", 40, false};
  stale.occurrence = true;
  this->commit(b.insert_fired(*changed, stale));
  EXPECT_EQ(b.get(changed->id()).has_value(), !b.shared());
  if (!b.shared()) {  // as the shared one has it
    this->commit(b.erase(twice->id(), JobState::pending));
    this->commit(b.erase(changed->id(), JobState::pending));
    this->commit(b.put_setting(fired));
  }
  srv::JobBackend& again = TypeParam::kDurable ? this->open() : b;
  const std::vector<srv::SettingRow> schedules = again.load_settings(srv::SettingKind::schedule);
  ASSERT_EQ(schedules.size(), 1u);
  EXPECT_EQ(schedules[0].name, "nightly");
  EXPECT_EQ(schedules[0].body, R"({"v":2,"runs":1})");
  EXPECT_EQ(schedules[0].fired_ms, 30);
  const std::vector<srv::SettingRow> queues = again.load_settings(srv::SettingKind::queue);
  ASSERT_EQ(queues.size(), 1u);
  EXPECT_EQ(queues[0].body, R"({"max_running":1})");
}
