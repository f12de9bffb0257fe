// Reads of finished tasks answered from FinishedJobCache in the HTTP threads: they must never
// show a body that a completed request (delete, eviction) has made stale.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "daemon_fixture.hpp"
#include "uasyncd/bridge/finished_job_cache.hpp"

namespace {

using uasyncd::server::FinishedJobCache;

FinishedJobCache::Body body(const std::string& text) {
  return std::make_shared<const std::string>(text);
}

TEST(FinishedJobCache, FindsWhatWasPutUntilErased) {
  FinishedJobCache cache(4);
  EXPECT_EQ(cache.find(1), nullptr);
  cache.put(1, body("one"), cache.generation());
  ASSERT_NE(cache.find(1), nullptr);
  EXPECT_EQ(*cache.find(1), "one");
  cache.erase(1);
  EXPECT_EQ(cache.find(1), nullptr);
}

TEST(FinishedJobCache, DropsTheOldestPutPastItsCapacity) {
  FinishedJobCache cache(3);
  for (std::uint64_t seq = 1; seq <= 5; ++seq)
    cache.put(seq, body(std::to_string(seq)), cache.generation());
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.find(1), nullptr);
  EXPECT_EQ(cache.find(2), nullptr);
  for (std::uint64_t seq = 3; seq <= 5; ++seq)
    EXPECT_NE(cache.find(seq), nullptr) << seq;
}

TEST(FinishedJobCache, ErasedEntriesDoNotLetItGrow) {
  FinishedJobCache cache(2);
  for (int round = 0; round < 1000; ++round) {
    cache.put(7, body("x"), cache.generation());
    cache.erase(7);
  }
  EXPECT_EQ(cache.size(), 0u);
  cache.put(8, body("y"), cache.generation());
  cache.put(9, body("z"), cache.generation());
  cache.put(10, body("w"), cache.generation());
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.find(8), nullptr);
}

TEST(FinishedJobCache, CapacityZeroKeepsNothing) {
  FinishedJobCache cache(0);
  cache.put(1, body("one"), cache.generation());
  EXPECT_EQ(cache.find(1), nullptr);
}

TEST(FinishedJobCache, ReadersRaceOneWriter) {
  FinishedJobCache cache(64);
  std::atomic<bool> done{false};
  std::atomic<long> hits{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&] {
      while (!done.load()) {
        for (std::uint64_t seq = 0; seq < 128; ++seq) {
          if (FinishedJobCache::Body b = cache.find(seq)) {
            EXPECT_EQ(*b, std::to_string(seq));
            hits.fetch_add(1);
          }
        }
      }
    });
  }
  // The writer goes on until the readers have really raced it (threads may start late).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (std::uint64_t round = 0; hits.load() < 10'000 && std::chrono::steady_clock::now() < deadline;
       ++round) {
    cache.put(round % 128, body(std::to_string(round % 128)), cache.generation());
    if (round % 3 == 0) cache.erase((round * 7) % 128);
  }
  done = true;
  for (auto& t : readers)
    t.join();
  EXPECT_GE(hits.load(), 10'000);
  EXPECT_LE(cache.size(), 64u);
}

TEST(FinishedJobCache, APutThatRacedAnEraseIsDropped) {
  FinishedJobCache cache(4);
  const std::uint64_t before_read = cache.generation();  // a reader starts reading job 1
  cache.erase(1);                                        // the job is deleted meanwhile
  cache.put(1, body("stale"), before_read);              // the reader's body is stale
  EXPECT_EQ(cache.find(1), nullptr);
  cache.put(1, body("fresh"), cache.generation());
  ASSERT_NE(cache.find(1), nullptr);
}

using ReadCache = DaemonTest;

TEST_F(ReadCache, RepeatedGetOfAFinishedTaskIsTheSameTask) {
  start();
  const std::string id = submit(R"({"name": "cached", "value": {"answer": 42}})");
  Result finished = wait(id);
  ASSERT_EQ(finished.status, 200);
  Result first = get("/api/tasks/" + id);
  Result second = get("/api/tasks/" + id);
  ASSERT_EQ(first.status, 200);
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(first.body, finished.body);
  EXPECT_EQ(second.body, finished.body);
  EXPECT_EQ(second.body["result"]["answer"], 42);
  EXPECT_EQ(second.body["state"], "done");
}

TEST_F(ReadCache, UnfinishedTasksAreReadLive) {
  start();
  const std::string id = submit(R"({"sleep": 3600})");
  ASSERT_EQ(
      poll("/api/tasks/" + id, [](const json& b) { return b["state"] == "running"; }).body["state"],
      "running");
  ASSERT_EQ(post("/api/tasks/" + id + "/cancel", "").status, 202);
  Result after = poll("/api/tasks/" + id, [](const json& b) { return b["state"] == "cancelled"; });
  EXPECT_EQ(after.body["state"], "cancelled");
  EXPECT_EQ(get("/api/tasks/" + id).body["state"], "cancelled");
}

TEST_F(ReadCache, ADeletedTaskIsGoneAtOnce) {
  start();
  const std::string id = submit(R"({"value": 1})");
  ASSERT_EQ(wait(id).status, 200);
  ASSERT_EQ(get("/api/tasks/" + id).status, 200);  // now cached
  ASSERT_EQ(result(client_->Delete(("/api/tasks/" + id).c_str())).status, 200);
  EXPECT_EQ(get("/api/tasks/" + id).status, 404);
}

TEST_F(ReadCache, AnEvictedTaskIsGoneOnceItsSuccessorFinished) {
  uasyncd::server::DaemonOptions options;
  options.keep_finished = 1;
  start(options);
  const std::string older = submit(R"({"value": 1})");
  ASSERT_EQ(wait(older).status, 200);
  ASSERT_EQ(get("/api/tasks/" + older).status, 200);  // now cached
  const std::string newer = submit(R"({"value": 2})");
  ASSERT_EQ(wait(newer).status, 200);
  EXPECT_EQ(get("/api/tasks/" + older).status, 404);
  EXPECT_EQ(get("/api/tasks/" + newer).status, 200);
}

TEST_F(ReadCache, AStepIdIsNotAnsweredWithItsTask) {
  start();
  const std::string id = submit(R"({"sequence": [{"value": 1}, {"name": "last", "value": 2}]})");
  ASSERT_EQ(wait(id).status, 200);
  ASSERT_EQ(get("/api/tasks/" + id).status, 200);  // the task is cached
  Result step = get("/api/tasks/" + id + ".2");
  ASSERT_EQ(step.status, 200);
  EXPECT_EQ(step.body["id"], id);  // the step's task, with the tree
  EXPECT_EQ(get("/api/tasks/" + id + ".9").status, 404);
}

}  // namespace
