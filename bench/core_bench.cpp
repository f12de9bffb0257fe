// The scheduler-core workloads of issue 2, the same as bench/asyncio_core.py runs in CPython:
//   (a) 1,000,000 create_task + await, in sequence
//   (b) 1,000,000 create_task, then one gather over the vector of tasks
//   (c) 100,000 tasks each sleep_ms(10) concurrently, gathered (real clock: the 10 ms count)
//   (d) sleep(0) switches between 2 tasks
// Google Benchmark times warm runs (the loop and the allocator have run the workload before).
// Each benchmark also reports its first run in the process ("cold"): run it in a fresh process
// (bench/run_core.sh does, one --benchmark_filter per workload) and that run pays the page
// faults for its memory, and its RSS growth is the workload's own (peak RSS reset beforehand).
#include <benchmark/benchmark.h>

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <vector>

#include <uasyncio/uasyncio.hpp>

#include "rss.hpp"

namespace ua = uasyncio;

namespace {

constexpr std::int64_t kTasks = 1'000'000;
constexpr std::int64_t kSleepers = 100'000;
constexpr std::int64_t kSleepMs = 10;
constexpr std::int64_t kYieldsPerTask = 2'000'000;

ua::Coro<void> nop() {
  co_return;
}

ua::Coro<void> create_and_await_in_sequence(std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i)
    co_await ua::create_task(nop());
}

ua::Coro<std::size_t> create_then_gather(std::int64_t n) {
  std::vector<ua::Task<void>> tasks;
  tasks.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    tasks.push_back(ua::create_task(nop()));
  auto results = co_await ua::gather(std::move(tasks));
  co_return results.size();
}

ua::Coro<void> sleeper(std::int64_t ms) {
  co_await ua::sleep_ms(ms);
}

ua::Coro<std::size_t> concurrent_sleeps(std::int64_t n, std::int64_t ms) {
  std::vector<ua::Task<void>> tasks;
  tasks.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    tasks.push_back(ua::create_task(sleeper(ms)));
  auto results = co_await ua::gather(std::move(tasks));
  co_return results.size();
}

ua::Coro<void> yielder(std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i)
    co_await ua::sleep(0);
}

ua::Coro<void> ping_pong(std::int64_t yields_per_task) {
  ua::Task<void> a = ua::create_task(yielder(yields_per_task));
  ua::Task<void> b = ua::create_task(yielder(yields_per_task));
  co_await a;
  co_await b;
}

// CPU time (user + system) this process has used, in seconds.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// What the first run of a workload in this process measured.
struct ColdRun {
  bool done = false;
  bool peak_reset = false;
  double seconds = 0;
  double cpu_seconds = 0;  // of the process while it ran (the rest of the wall time waited)
  std::int64_t peak_rss = 0;
  std::int64_t rss_growth = 0;
};

// Runs `make()` (a coroutine) on the loop once per iteration; `tasks` is what bytes per task and
// items/s count, `units` what the rate counter counts (tasks, or switches for (d)).
template <class Make>
void run_workload(benchmark::State& state, ColdRun& cold, std::int64_t tasks, std::int64_t units,
                  Make make) {
  ua::get_event_loop().set_virtual_clock(false);
  for (auto _ : state) {
    if (cold.done) {
      benchmark::DoNotOptimize(ua::run(make()));
      continue;
    }
    cold.peak_reset = bench::reset_peak_rss();
    const std::int64_t rss_before = bench::status_bytes("VmRSS");
    const double cpu0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(ua::run(make()));
    const auto t1 = std::chrono::steady_clock::now();
    cold.cpu_seconds = cpu_seconds() - cpu0;
    cold.peak_rss = bench::status_bytes("VmHWM");
    cold.rss_growth = cold.peak_rss - rss_before;
    cold.seconds = std::chrono::duration<double>(t1 - t0).count();
    cold.done = true;
  }
  state.SetItemsProcessed(state.iterations() * units);
  state.counters["cold_ms"] = cold.seconds * 1e3;
  state.counters["cold_per_s"] = static_cast<double>(units) / cold.seconds;
  state.counters["cold_cpu_ms"] = cold.cpu_seconds * 1e3;
  state.counters["peak_rss_MB"] = static_cast<double>(cold.peak_rss) / (1 << 20);
  state.counters["rss_growth_MB"] = static_cast<double>(cold.rss_growth) / (1 << 20);
  state.counters["bytes_per_task"] =
      static_cast<double>(cold.rss_growth) / static_cast<double>(tasks);
  state.counters["peak_was_reset"] = cold.peak_reset ? 1 : 0;
}

// Each workload returns something so the whole run cannot be optimised away.
ua::Coro<int> with_result(ua::Coro<void> c) {
  co_await std::move(c);
  co_return 0;
}

void BM_a_create_await_sequence(benchmark::State& state) {
  static ColdRun cold;
  run_workload(state, cold, kTasks, kTasks,
               [] { return with_result(create_and_await_in_sequence(kTasks)); });
}

void BM_b_create_then_gather(benchmark::State& state) {
  static ColdRun cold;
  run_workload(state, cold, kTasks, kTasks, [] { return create_then_gather(kTasks); });
}

void BM_c_concurrent_sleeps(benchmark::State& state) {
  static ColdRun cold;
  run_workload(state, cold, kSleepers, kSleepers,
               [] { return concurrent_sleeps(kSleepers, kSleepMs); });
}

void BM_d_sleep0_switches(benchmark::State& state) {
  static ColdRun cold;
  // Every sleep(0) of one task hands the loop to the other: one switch per sleep(0).
  run_workload(state, cold, 2, 2 * kYieldsPerTask,
               [] { return with_result(ping_pong(kYieldsPerTask)); });
}

}  // namespace

BENCHMARK(BM_a_create_await_sequence)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_b_create_then_gather)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_c_concurrent_sleeps)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_d_sleep0_switches)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
