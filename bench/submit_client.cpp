// Submits {"sleep_ms": 0} tasks to a running uasyncd over N keep-alive connections for a while,
// and prints the rate of 201 answers (and how many were not 201) as one JSON line.
//   submit_client PORT CONNECTIONS SECONDS
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: submit_client PORT CONNECTIONS SECONDS\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const int connections = std::atoi(argv[2]);
  const double seconds = std::atof(argv[3]);
  std::atomic<bool> stop{false};
  std::atomic<long> created{0};
  std::atomic<long> refused{0};
  std::vector<std::thread> threads;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < connections; ++i) {
    threads.emplace_back([&] {
      httplib::Client c("127.0.0.1", port);
      c.set_keep_alive(true);
      c.set_tcp_nodelay(true);  // else Nagle holds the body behind the headers for 40 ms
      c.set_read_timeout(30);
      while (!stop.load(std::memory_order_relaxed)) {
        auto r = c.Post("/api/tasks", R"({"sleep_ms": 0})", "application/json");
        if (r && r->status == 201) {
          created.fetch_add(1, std::memory_order_relaxed);
        } else {
          refused.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (std::thread& t : threads)
    t.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"created\": %ld, \"other\": %ld, \"seconds\": %.2f, \"per_second\": %.0f}\n",
              created.load(), refused.load(), elapsed, static_cast<double>(created) / elapsed);
  return 0;
}
