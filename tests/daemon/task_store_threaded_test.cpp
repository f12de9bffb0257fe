// The SQLite store and its writer thread on their own: rows round-trip, group commits merge a
// task's changes, acknowledgements come in order, and bad files are refused by name.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "uasyncd/api/spec.hpp"
#include "uasyncd/server/durable_writer.hpp"
#include "uasyncd/server/task_snapshot.hpp"
#include "uasyncd/server/task_store.hpp"

namespace srv = uasyncd::server;
namespace api = uasyncd::api;
namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

class StoreTest : public ::testing::Test {
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

  static std::shared_ptr<api::TaskRecord> record(std::uint64_t seq, const json& spec) {
    api::ParsedSpec parsed = api::parse_spec(spec);
    EXPECT_TRUE(parsed) << parsed.error.message;
    return std::make_shared<api::TaskRecord>(seq, std::move(*parsed.spec), spec);
  }

  std::string dir_;
};

using Store = StoreTest;
using Writer = StoreTest;

}  // namespace

TEST_F(Store, RowsRoundTripThroughInsertUpdateAndDelete) {
  {
    auto store = srv::TaskStore::open(dir_);
    srv::StoreBatch batch;
    for (std::uint64_t seq = 1; seq <= 3; ++seq) {
      srv::StoredTask t;
      t.seq = seq;
      t.spec = R"({"value":1})";
      t.state = "pending";
      t.created_ms = 100 + static_cast<std::int64_t>(seq);
      batch.inserts.push_back(t);
    }
    batch.max_seq = 3;
    store->write(batch);
    srv::StoreBatch later;
    srv::StoredTask done;
    done.seq = 2;
    done.state = "failed";
    done.attempts = 2;
    done.finished_ms = 999;
    done.result = "null";
    done.error_type = "Exception";
    done.error_message = "boom";
    later.updates.push_back(done);
    later.deletes.push_back(3);
    later.max_seq = 3;  // the writer passes the highest seq so far with every batch
    store->write(later);
  }
  auto store = srv::TaskStore::open(dir_);
  const std::vector<srv::StoredTask> rows = store->load();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].seq, 1u);
  EXPECT_EQ(rows[0].state, "pending");
  EXPECT_EQ(rows[0].created_ms, 101);
  EXPECT_FALSE(rows[0].error_type);
  EXPECT_EQ(rows[1].state, "failed");
  EXPECT_EQ(rows[1].attempts, 2);
  EXPECT_EQ(rows[1].spec, R"({"value":1})");  // an update keeps the spec
  EXPECT_EQ(rows[1].created_ms, 102);
  EXPECT_EQ(*rows[1].error_type, "Exception");
  EXPECT_EQ(rows[1].error_message, "boom");
  EXPECT_EQ(store->max_seq(), 3u);  // deleting the newest task does not free its id
}

TEST_F(Store, UsesWalWithFullSync) {
  srv::TaskStore::open(dir_).reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, nullptr);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "wal");
  sqlite3_finalize(s);
  sqlite3_close(db);
}

TEST_F(Store, CorruptFileIsRefusedByName) {
  std::ofstream(db_path()) << std::string(4096, '\x07');
  try {
    srv::TaskStore::open(dir_);
    FAIL() << "opened a corrupt file";
  } catch (const srv::StoreError& e) {
    EXPECT_NE(std::string(e.what()).find(db_path()), std::string::npos) << e.what();
  }
}

TEST_F(Store, DamagedPagesAreFoundByTheCheckAtOpen) {
  {
    auto store = srv::TaskStore::open(dir_);
    srv::StoreBatch batch;
    for (std::uint64_t seq = 1; seq <= 2000; ++seq) {
      srv::StoredTask t;
      t.seq = seq;
      t.spec = std::string(200, 'x');
      t.state = "done";
      batch.inserts.push_back(t);
    }
    store->write(batch);
  }
  {
    // Overwrite some pages in the middle of the file, past the header.
    std::fstream f(db_path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8 * 4096);
    const std::string junk(3 * 4096, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  EXPECT_THROW(srv::TaskStore::open(dir_), srv::StoreError);
}

TEST_F(Store, SecondOpenOfTheSameFileIsRefused) {
  auto first = srv::TaskStore::open(dir_);
  EXPECT_THROW(srv::TaskStore::open(dir_), srv::StoreError);
}

TEST_F(Writer, AcknowledgesInOrderAndMergesATasksChanges) {
  auto task = record(1, json{{"value", 42}, {"name", "x"}});
  auto other = record(2, json{{"sleep", 1}});
  {
    srv::DurableWriter writer(srv::TaskStore::open(dir_), 0);
    writer.submitted(*task);
    writer.submitted(*other);
    task->state = api::State::done;
    task->attempts = 1;
    task->result = 42;
    task->steps[0].state = api::State::done;
    task->steps[0].result = 42;
    writer.changed(*task);
    EXPECT_TRUE(writer.wait_durable(2, 5s));
    EXPECT_FALSE(writer.wait_durable(3, 50ms));  // never submitted
    writer.erased(2);
    writer.stop();
    EXPECT_GE(writer.stats().commits, 1u);
  }
  auto store = srv::TaskStore::open(dir_);
  const std::vector<srv::StoredTask> rows = store->load();
  ASSERT_EQ(rows.size(), 1u);
  std::string why;
  srv::TaskPtr back = srv::rebuild(rows[0], why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(back->state, api::State::done);
  EXPECT_EQ(back->result, 42);
  EXPECT_EQ(back->name(), "x");
  EXPECT_EQ(back->attempts, 1);
  EXPECT_EQ(back->steps[0].state, api::State::done);
  EXPECT_EQ(back->steps[0].result, 42);
  EXPECT_EQ(store->max_seq(), 2u);
}

TEST_F(Writer, ManyThreadsWaitWhileTheLoopSubmits) {
  constexpr std::uint64_t kTasks = 3000;
  std::vector<std::shared_ptr<api::TaskRecord>> tasks;
  for (std::uint64_t seq = 1; seq <= kTasks; ++seq)
    tasks.push_back(record(seq, json{{"value", seq}}));
  {
    srv::DurableWriter writer(srv::TaskStore::open(dir_), 0);
    std::vector<std::thread> waiters;
    std::atomic<int> acked{0};
    for (std::uint64_t w = 0; w < 8; ++w) {
      waiters.emplace_back([&, w] {
        for (std::uint64_t seq = w + 1; seq <= kTasks; seq += 8) {
          if (writer.wait_durable(seq, 10s)) ++acked;
        }
      });
    }
    for (auto& t : tasks)
      writer.submitted(*t);
    for (std::thread& t : waiters)
      t.join();
    EXPECT_EQ(acked, static_cast<int>(kTasks));
    // Group commits: far fewer transactions than tasks.
    EXPECT_LT(writer.stats().commits, kTasks);
  }
  EXPECT_EQ(srv::TaskStore::open(dir_)->load().size(), kTasks);
}

TEST_F(Store, TrimFinishedDeletesTheOldestFinishedRowsInBatches) {
  auto store = srv::TaskStore::open(dir_);
  srv::StoreBatch batch;
  for (std::uint64_t seq = 1; seq <= 40; ++seq) {
    srv::StoredTask t;
    t.seq = seq;
    t.spec = R"({"value":1})";
    // Every fourth task is unfinished, which retention never touches.
    t.state = seq % 4 == 0 ? (seq % 8 == 0 ? "running" : "pending") : "done";
    batch.inserts.push_back(t);
  }
  store->write(batch);
  EXPECT_EQ(store->trim_finished(100), 0u);
  EXPECT_EQ(store->trim_finished(10, 3), 20u);  // 30 finished, 10 kept
  std::vector<std::uint64_t> finished;
  std::size_t unfinished = 0;
  for (const srv::StoredTask& t : store->load()) {
    if (t.state == "done") {
      finished.push_back(t.seq);
    } else {
      ++unfinished;
    }
  }
  EXPECT_EQ(unfinished, 10u);
  EXPECT_EQ(finished, (std::vector<std::uint64_t>{27, 29, 30, 31, 33, 34, 35, 37, 38, 39}));
  // Deleting the newest task keeps its id taken.
  EXPECT_EQ(store->trim_finished(0), 10u);
  EXPECT_EQ(store->load().size(), 10u);
  EXPECT_EQ(store->max_seq(), 40u);
}

namespace {

// A finished one-step exec task whose output holds bytes that are not UTF-8 and overflowed the
// capture cap.
std::shared_ptr<api::TaskRecord> exec_task_with_output() {
  const json spec = {{"exec", {"sh"}}};
  auto task = std::make_shared<api::TaskRecord>(7, std::move(*api::parse_spec(spec).spec), spec);
  auto out = std::make_unique<api::ExecOutput>();
  out->pid = 4242;
  out->exit_code = 1;
  out->out.append(std::string("\xff\xfe\x00 bytes", 9));
  out->out.append(std::string(api::kOutputCap, 'y'));
  out->out.append("the end");
  out->err.append("short\n");
  task->steps[0].exec = std::move(out);
  task->steps[0].state = api::State::failed;
  task->state = api::State::failed;
  return task;
}

}  // namespace

TEST_F(Writer, ExecOutputRoundTripsByteForByte) {
  auto task = exec_task_with_output();
  {
    srv::DurableWriter writer(srv::TaskStore::open(dir_), 0);
    writer.submitted(*task);
    writer.changed(*task, true);
    writer.stop();
  }
  const std::vector<srv::StoredTask> rows = srv::TaskStore::open(dir_)->load();
  ASSERT_EQ(rows.size(), 1u);
  std::string why;
  srv::TaskPtr back = srv::rebuild(rows[0], why);
  ASSERT_TRUE(back) << why;
  ASSERT_TRUE(back->steps[0].exec);
  const api::ExecOutput& was = *task->steps[0].exec;
  const api::ExecOutput& is = *back->steps[0].exec;
  EXPECT_EQ(is.pid, 4242);
  EXPECT_EQ(is.exit_code, 1);
  EXPECT_FALSE(is.running);
  EXPECT_EQ(is.out.kept(), was.out.kept());
  EXPECT_EQ(is.out.tail(), was.out.tail());
  EXPECT_EQ(is.out.tail().substr(api::kTailBytes - 7), "the end");
  EXPECT_EQ(is.out.bytes(), was.out.bytes());
  EXPECT_TRUE(is.out.truncated());
  EXPECT_EQ(is.err.kept(), "short\n");
  EXPECT_EQ(is.err.tail(), "short\n");
  EXPECT_FALSE(is.err.truncated());
  EXPECT_EQ(is.out.published, is.out.kept().size());
}

TEST_F(Writer, ARecordWithoutOutputClearsAnEarlierRunsOutput) {
  auto task = exec_task_with_output();
  const json spec = task->spec_json;
  {
    srv::DurableWriter writer(srv::TaskStore::open(dir_), 0);
    writer.submitted(*task);
    writer.changed(*task, true);
    EXPECT_TRUE(writer.wait_durable(7, 5s));
    // A retry's fresh record: pending, no output yet.
    auto fresh = std::make_shared<api::TaskRecord>(7, std::move(*api::parse_spec(spec).spec), spec);
    writer.changed(*fresh);
    writer.stop();
  }
  std::string why;
  srv::TaskPtr back = srv::rebuild(srv::TaskStore::open(dir_)->load().at(0), why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(back->state, api::State::pending);
  EXPECT_FALSE(back->steps[0].exec);
  EXPECT_EQ(back->steps[0].state, api::State::pending);
}

TEST_F(Writer, StepsOfARunningTaskAreStored) {
  const json spec = {{"sequence", json::array({{{"value", 1}}, {{"sleep", 5}}, {{"value", 2}}})}};
  auto task = record(3, spec);
  {
    srv::DurableWriter writer(srv::TaskStore::open(dir_), 0);
    writer.submitted(*task);
    task->state = api::State::running;
    task->steps[0].state = api::State::running;
    task->steps[1].state = api::State::done;
    task->steps[1].result = 1;
    task->steps[2].state = api::State::running;
    writer.changed(*task);
    writer.stop();
  }
  std::string why;
  srv::TaskPtr back = srv::rebuild(srv::TaskStore::open(dir_)->load().at(0), why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(back->state, api::State::running);
  EXPECT_EQ(back->steps[0].state, api::State::running);
  EXPECT_EQ(back->steps[1].state, api::State::done);
  EXPECT_EQ(back->steps[1].result, 1);
  EXPECT_EQ(back->steps[2].state, api::State::running);
  EXPECT_EQ(back->steps[3].state, api::State::pending);
}
