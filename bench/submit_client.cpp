// Submits {"sleep_ms": 0} tasks to running uasyncd daemons over N keep-alive connections for a
// while, and prints the rate of 201 answers (and how many were not 201) as one JSON line.
//   submit_client PORT[,PORT...] CONNECTIONS SECONDS [WARMUP_SECONDS]
// With several ports (cluster_bench.sh: one per instance), connection i goes to port i mod the
// number of ports. With WARMUP_SECONDS (default 0), the client submits for WARMUP + SECONDS and
// counts only the SECONDS after the warm-up. Besides the counts, it prints the submit latency
// (request sent to 201 read) p50/p99/max over the counted window, and the window's bounds as
// epoch milliseconds (window_start_ms, window_end_ms) so that a caller can count what finished
// in it, and created_all: the 201 answers of the whole run, warm-up and the requests in flight at
// the end included.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

long long epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const std::size_t i = std::min(sorted.size() - 1, static_cast<std::size_t>(p * sorted.size()));
  return sorted[i];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr,
                 "usage: submit_client PORT[,PORT...] CONNECTIONS SECONDS [WARMUP_SECONDS]\n");
    return 2;
  }
  std::vector<int> ports;
  {
    std::stringstream list(argv[1]);
    std::string item;
    while (std::getline(list, item, ','))
      ports.push_back(std::atoi(item.c_str()));
  }
  if (ports.empty()) return 2;
  const int connections = std::atoi(argv[2]);
  const double seconds = std::atof(argv[3]);
  const double warmup = argc == 5 ? std::atof(argv[4]) : 0.0;
  std::atomic<bool> counting{warmup <= 0};
  std::atomic<bool> stop{false};
  std::atomic<long> created{0};
  std::atomic<long> refused{0};
  std::atomic<long> created_all{0};  // warm-up included: what the store must hold afterwards
  std::vector<std::vector<double>> latencies(connections);  // ms, one vector per thread
  std::vector<std::thread> threads;
  long long window_start_ms = epoch_ms();
  auto window_start = std::chrono::steady_clock::now();
  for (int i = 0; i < connections; ++i) {
    threads.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", ports[i % ports.size()]);
      c.set_keep_alive(true);
      c.set_tcp_nodelay(true);  // else Nagle holds the body behind the headers for 40 ms
      c.set_read_timeout(30);
      std::vector<double>& mine = latencies[i];
      while (!stop.load(std::memory_order_relaxed)) {
        const auto sent = std::chrono::steady_clock::now();
        auto r = c.Post("/api/tasks", R"({"sleep_ms": 0})", "application/json");
        if (r && r->status == 201) created_all.fetch_add(1, std::memory_order_relaxed);
        if (!counting.load(std::memory_order_relaxed) || stop.load(std::memory_order_relaxed))
          continue;
        if (r && r->status == 201) {
          created.fetch_add(1, std::memory_order_relaxed);
          mine.push_back(
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent)
                  .count());
        } else {
          refused.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  if (warmup > 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(warmup));
    window_start_ms = epoch_ms();
    window_start = std::chrono::steady_clock::now();
    counting = true;
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  const long long window_end_ms = epoch_ms();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - window_start).count();
  for (std::thread& t : threads)
    t.join();
  std::vector<double> all;
  for (const std::vector<double>& v : latencies)
    all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  std::printf(
      "{\"created\": %ld, \"other\": %ld, \"seconds\": %.2f, \"per_second\": %.0f, "
      "\"p50_ms\": %.2f, \"p99_ms\": %.2f, \"max_ms\": %.2f, \"window_start_ms\": %lld, "
      "\"window_end_ms\": %lld, \"created_all\": %ld}\n",
      created.load(), refused.load(), elapsed, static_cast<double>(created) / elapsed,
      percentile(all, 0.50), percentile(all, 0.99), all.empty() ? 0.0 : all.back(), window_start_ms,
      window_end_ms, created_all.load());
  return 0;
}
