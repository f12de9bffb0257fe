// Batch submit with the real binary: kill -9 in the middle of a stream of batches. After the
// restart every batch answered 201 is stored whole, with its ids in order, and no batch is stored
// in part (a batch is one transaction, answered or not).
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "crash_storm.hpp"
#include "daemon_process.hpp"
#include "temp_dir.hpp"

extern "C" const char* __tsan_default_suppressions() {
  return "race:libcpp-httplib.so\n";
}

namespace {

using nlohmann::json;

// Every stored task's name, by id.
std::map<std::string, std::string> stored_names(int port) {
  std::map<std::string, std::string> out;
  for (const auto& [id, task] : all_tasks(port))
    out[id] = task["name"].get<std::string>();
  return out;
}

// Task `i` of batch `batch`: named so that the check can tell which batch a stored task is of.
std::string task_name(const std::string& batch, int i) {
  return batch + "." + std::to_string(i);
}

void batch_storm(unsigned seed) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  constexpr int kClients = 4;
  constexpr int kBatch = 300;
  constexpr int kBatchesPerClient = 40;
  TempDir dir;
  std::mt19937 rng(seed);
  const int kill_after = std::uniform_int_distribution<int>(4, 40)(rng);

  std::map<std::string, std::vector<std::string>> acked;  // batch -> ids answered 201
  std::mutex mu;
  std::atomic<int> acks{0};
  {
    DaemonProcess daemon(daemon_args(dir.path()), dir / "run1.log");
    const std::optional<int> port = daemon.await_port();
    ASSERT_TRUE(port) << daemon.output();
    std::atomic<bool> killed{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        httplib::Client client("127.0.0.1", *port);
        client.set_read_timeout(10);
        for (int b = 0; b < kBatchesPerClient && !killed; ++b) {
          const std::string batch = "c" + std::to_string(c) + "b" + std::to_string(b);
          json specs = json::array();
          for (int i = 0; i < kBatch; ++i) {
            // Some run until the kill, some end at once: the batch's rows are updated too.
            specs.push_back(i % 3 == 0 ? json{{"name", task_name(batch, i)}, {"sleep", 1000}}
                                       : json{{"name", task_name(batch, i)}, {"value", i}});
          }
          auto r = client.Post("/api/tasks", specs.dump(), "application/json");
          if (!r) break;  // the daemon is gone
          if (r->status != 201) continue;
          std::vector<std::string> ids;
          const json answer = json::parse(r->body);
          for (const json& id : answer["ids"])
            ids.push_back(id.get<std::string>());
          std::lock_guard lock(mu);
          acked[batch] = std::move(ids);
          ++acks;
        }
      });
    }
    while (acks < kill_after && !daemon.exited())
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    daemon.signal(SIGKILL);
    killed = true;
    for (std::thread& t : clients)
      t.join();
    ASSERT_TRUE(daemon.await_exit(std::chrono::seconds(10)));
  }

  DaemonProcess daemon(daemon_args(dir.path()), dir / "run2.log");
  const std::optional<int> port = daemon.await_port();
  ASSERT_TRUE(port) << daemon.output();
  const std::map<std::string, std::string> stored = stored_names(*port);
  EXPECT_GE(acked.size(), static_cast<std::size_t>(kill_after));
  // Every acknowledged batch is whole, its ids in the order of its specs.
  for (const auto& [batch, ids] : acked) {
    ASSERT_EQ(ids.size(), static_cast<std::size_t>(kBatch)) << batch;
    for (int i = 0; i < kBatch; ++i) {
      auto it = stored.find(ids[i]);
      ASSERT_NE(it, stored.end()) << batch << ": " << ids[i] << " got a 201 but is gone";
      EXPECT_EQ(it->second, task_name(batch, i)) << ids[i];
    }
  }
  // No batch is stored in part, acknowledged or not.
  std::map<std::string, int> per_batch;
  for (const auto& [id, name] : stored)
    ++per_batch[name.substr(0, name.find('.'))];
  for (const auto& [batch, n] : per_batch)
    EXPECT_EQ(n, kBatch) << batch << " is stored in part";
  // At most one batch per client was stored without its answer (the kill came in between).
  EXPECT_LE(per_batch.size(), acked.size() + kClients);
  daemon.signal(SIGTERM);
  const std::optional<int> status = daemon.await_exit(std::chrono::seconds(30));
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << daemon.output();
}

}  // namespace

TEST(BatchDurable, Kill9KeepsEveryAnsweredBatchWholeAndNoBatchInPartSeed1) {
  batch_storm(1);
}
TEST(BatchDurable, Kill9KeepsEveryAnsweredBatchWholeAndNoBatchInPartSeed2) {
  batch_storm(2);
}
