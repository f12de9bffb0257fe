// next_fire of issue 16's schedules: what one fire costs the loop to find the next one.
// Each case runs two ways: "seq" steps from fire to fire (as a schedule does), "any" asks from
// instants spread over 2026-2036 (as after a restart). bench/run_schedule.sh runs this next to
// Python's croniter on the same expressions (bench/schedule_report.py) and prints the ratios.
// Case names are "next_fire|<seq or any>|<zone or every>|<expression or seconds>": the report
// reads them to run the same cases in croniter.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "uasyncd/schedule/schedule.hpp"

namespace sch = uasyncd::schedule;
using namespace std::chrono;

namespace {

struct Case {
  const char* zone;  // nullptr: a plain interval of `text` seconds
  const char* text;
};

constexpr Case kCases[] = {
    {"UTC", "*/15 * * * *"},
    {"Europe/Berlin", "*/15 * * * *"},
    {"Europe/Berlin", "0 3 * * *"},
    {"Europe/Berlin", "30 2 * * *"},
    {"Europe/Berlin", "*/7 * * * * *"},
    {"America/New_York", "0 9-17 * * MON-FRI"},
    {"Australia/Sydney", "0 0 1,15 * *"},
    {"Europe/Berlin", "0 0 29 2 *"},
    {nullptr, "60"},
};

const sch::Instant kStart{sys_days{year{2026} / 1 / 1}};
const sch::Instant kEnd{sys_days{year{2036} / 1 / 1}};

sch::Schedule make(const Case& c) {
  sch::Parsed<sch::Schedule> s = c.zone ? sch::make_cron_schedule(c.text, c.zone)
                                        : sch::make_interval_schedule(std::stod(c.text), kStart);
  if (!s) throw std::runtime_error(s.error.message);
  return *s.value;
}

void from_fire_to_fire(benchmark::State& state, const Case& c) {
  const sch::Schedule s = make(c);
  sch::Instant t = kStart;
  for (auto _ : state) {
    std::optional<sch::Instant> fire = sch::next_fire(s, t);
    benchmark::DoNotOptimize(fire);
    t = fire && *fire < kEnd ? *fire : kStart;
  }
  state.SetItemsProcessed(state.iterations());
}

void from_any_instant(benchmark::State& state, const Case& c) {
  const sch::Schedule s = make(c);
  std::mt19937_64 random(16);
  std::uniform_int_distribution<std::int64_t> offset(0, (kEnd - kStart).count());
  std::vector<sch::Instant> instants(4096);
  for (sch::Instant& i : instants)
    i = kStart + milliseconds{offset(random)};
  std::size_t next = 0;
  for (auto _ : state) {
    std::optional<sch::Instant> fire = sch::next_fire(s, instants[next]);
    benchmark::DoNotOptimize(fire);
    next = (next + 1) % instants.size();
  }
  state.SetItemsProcessed(state.iterations());
}

void parse_cron(benchmark::State& state) {
  for (auto _ : state) {
    sch::Parsed<sch::CronExpr> p = sch::parse_cron("*/15 9-17 1,15 JAN-JUN MON-FRI");
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(parse_cron);

void find_time_zone(benchmark::State& state) {
  for (auto _ : state) {
    sch::Parsed<sch::TimeZone> z = sch::find_time_zone("Europe/Berlin");
    benchmark::DoNotOptimize(z);
  }
}
BENCHMARK(find_time_zone);

const bool registered = [] {
  for (const Case& c : kCases) {
    const std::string where = std::string(c.zone ? c.zone : "every") + "|" + c.text;
    benchmark::RegisterBenchmark(("next_fire|seq|" + where).c_str(), from_fire_to_fire, c);
    benchmark::RegisterBenchmark(("next_fire|any|" + where).c_str(), from_any_instant, c);
  }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
