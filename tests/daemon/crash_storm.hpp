// The kill -9 storm of the durable store's tests, for any store the daemon's flags choose (the
// SQLite file in the test's directory, or --database-url), and the reads it checks with.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "daemon_process.hpp"
#include "temp_dir.hpp"

inline std::vector<std::string> daemon_args(const std::string& data_dir,
                                            std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"--listen",    "127.0.0.1:0", "--data-dir",      data_dir,
                                "--log-level", "warn",        "--keep-finished", "100000"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// Every task the daemon lists, by id, with the full record (GET) of each.
inline std::map<std::string, nlohmann::json> all_tasks(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30);
  std::map<std::string, nlohmann::json> tasks;
  std::string cursor;
  for (;;) {
    const std::string path =
        "/api/tasks?limit=1000" + (cursor.empty() ? std::string() : "&cursor=" + cursor);
    auto r = c.Get(path.c_str());
    if (!r || r->status != 200) {
      ADD_FAILURE() << "list failed";
      return tasks;
    }
    const nlohmann::json page = nlohmann::json::parse(r->body);
    for (const nlohmann::json& t : page["tasks"]) {
      const std::string id = t["id"].get<std::string>();
      EXPECT_EQ(tasks.count(id), 0u) << id << " listed twice";
      tasks[id] = t;
    }
    if (page["next_cursor"].is_null()) return tasks;
    cursor = page["next_cursor"].get<std::string>();
  }
}

inline nlohmann::json full_task(int port, const std::string& id) {
  httplib::Client c("127.0.0.1", port);
  auto r = c.Get(("/api/tasks/" + id).c_str());
  return r && r->status == 200 ? nlohmann::json::parse(r->body) : nlohmann::json();
}

// The kinds the storm submits, chosen by the task's number so the check knows what to expect.
inline nlohmann::json storm_spec(int client, int n) {
  const std::string name = "c" + std::to_string(client) + "-" + std::to_string(n);
  switch (n % 4) {
    case 0:
      return {{"name", name}, {"value", name}};
    case 1:
      return {{"name", name}, {"sleep", 1000}};
    case 2:
      return {{"name", name}, {"sleep", 1000}, {"retries", 1}};
    default:
      return {{"name", name}, {"fail", "boom"}, {"retries", 1}, {"retry_delay", 0}};
  }
}

// What a task of each kind may look like after a crash and a restart.
inline void expect_consistent(const nlohmann::json& task, const nlohmann::json& spec) {
  const std::string state = task["state"].get<std::string>();
  const int attempts = task["attempts"].get<int>();
  const std::string name = spec["name"].get<std::string>();
  SCOPED_TRACE(task.dump());
  if (spec.contains("value")) {
    // Instant: done with its value, unless it was caught running by the kill.
    EXPECT_TRUE(state == "done" || state == "interrupted");
    if (state == "done") {
      EXPECT_EQ(task["result"], name);
    }
    EXPECT_EQ(attempts, 1);
  } else if (spec.contains("fail")) {
    // Fails twice (one retry), or the second run was the one the kill caught.
    EXPECT_TRUE(state == "failed" || state == "interrupted");
    EXPECT_EQ(attempts, 2);
    if (state == "failed") {
      EXPECT_EQ(task["error"]["message"], "boom");
    }
  } else if (spec.contains("retries")) {
    // Never interrupted: the restart runs it again, as a first or second attempt.
    EXPECT_EQ(state, "running");
    EXPECT_TRUE(attempts == 1 || attempts == 2);
  } else {
    // A pending one is queued again and runs; a running one is interrupted, never re-run.
    EXPECT_TRUE(state == "running" || state == "interrupted");
    EXPECT_EQ(attempts, 1);
  }
}

// Six clients submit tasks of every kind; the daemon is killed (SIGKILL) after a random number of
// 201s and restarted with the same flags: every acknowledged task is there, consistent with its
// kind, and at most one unacknowledged task per client is, whole.
inline void crash_storm(unsigned seed, std::vector<std::string> flags = {}) {
  SCOPED_TRACE("seed " + std::to_string(seed));
  constexpr int kClients = 6;
  constexpr int kTotal = 5000;
  TempDir dir;
  std::mt19937 rng(seed);
  const int kill_after = std::uniform_int_distribution<int>(200, kTotal - 200)(rng);

  std::map<std::string, nlohmann::json> acked;  // id -> spec answered 201
  std::map<std::string, nlohmann::json> sent;   // name -> spec, answered or not
  std::mutex mu;
  std::atomic<int> acks{0};
  std::atomic<int> clients_done{0};
  {
    DaemonProcess daemon(daemon_args(dir.path(), flags), dir / "run1.log");
    const std::optional<int> port = daemon.await_port();
    ASSERT_TRUE(port) << daemon.output();
    std::atomic<bool> killed{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        httplib::Client client("127.0.0.1", *port);
        client.set_read_timeout(10);
        for (int n = c; n < kTotal && !killed; n += kClients) {
          const nlohmann::json spec = storm_spec(c, n);
          {
            std::lock_guard lock(mu);
            sent[spec["name"].get<std::string>()] = spec;
          }
          auto r = client.Post("/api/tasks", spec.dump(), "application/json");
          if (!r) break;  // the daemon is gone
          if (r->status != 201) continue;
          std::lock_guard lock(mu);
          acked[nlohmann::json::parse(r->body)["id"].get<std::string>()] = spec;
          ++acks;
        }
        ++clients_done;
      });
    }
    // Clients that all stopped early (every submit refused) fail the checks below; never hang.
    while (acks < kill_after && !daemon.exited() && clients_done < kClients)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    daemon.signal(SIGKILL);
    killed = true;
    for (std::thread& t : clients)
      t.join();
    ASSERT_TRUE(daemon.await_exit(std::chrono::seconds(10)));
  }

  DaemonProcess daemon(daemon_args(dir.path(), flags), dir / "run2.log");
  const std::optional<int> port = daemon.await_port();
  ASSERT_TRUE(port) << daemon.output();
  if (std::find(flags.begin(), flags.end(), "--database-url") != flags.end()) {
    // Cluster mode: the restarted daemon is a new instance; it takes the killed one's tasks once
    // it finds that one dead (its lock gone and two heartbeats missed) and removes it.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    httplib::Client c("127.0.0.1", *port);
    for (;;) {
      auto r = c.Get("/api/instances");
      if (r && r->status == 200 && nlohmann::json::parse(r->body)["instances"].size() == 1) break;
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the killed instance stays listed";
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    // Then claims its tasks (in batches): wait until the instant ones (values, failures) have
    // all ended, as a single daemon's restart ends them at once.
    for (;;) {
      const std::map<std::string, nlohmann::json> now = all_tasks(*port);
      const bool settled = std::all_of(acked.begin(), acked.end(), [&](const auto& a) {
        if (!a.second.contains("value") && !a.second.contains("fail")) return true;
        auto it = now.find(a.first);
        return it != now.end() && it->second["finished"].is_number();
      });
      if (settled) break;
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "tasks stay unclaimed";
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  // Restored pending and retried tasks start at once; give the instant ones time to end.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const std::map<std::string, nlohmann::json> stored = all_tasks(*port);
  EXPECT_GE(acked.size(), static_cast<std::size_t>(kill_after));
  for (const auto& [id, spec] : acked) {
    auto it = stored.find(id);
    ASSERT_NE(it, stored.end()) << id << " got a 201 but is gone after the restart";
    EXPECT_EQ(it->second["name"], spec["name"]) << id;
    expect_consistent(it->second, spec);
  }
  // A task may be stored without its 201 (the kill came between commit and answer), but only
  // one per client in flight, and whole: the exact spec that was sent.
  std::size_t unacked = 0;
  for (const auto& [id, task] : stored) {
    if (acked.count(id)) continue;
    ++unacked;
    const nlohmann::json full = full_task(*port, id);
    auto it = sent.find(task["name"].get<std::string>());
    ASSERT_NE(it, sent.end()) << "a task nobody sent: " << full.dump();
    EXPECT_EQ(full["spec"], it->second);
    expect_consistent(task, it->second);
  }
  EXPECT_LE(unacked, static_cast<std::size_t>(kClients));
  daemon.signal(SIGTERM);
  const std::optional<int> status = daemon.await_exit(std::chrono::seconds(30));
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << daemon.output();
}
