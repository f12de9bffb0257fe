// Schedules are used from any thread: zones loaded for the first time by several threads at
// once, and next fires computed concurrently, give what one thread alone gives.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "instant_text.hpp"
#include "uasyncd/schedule/schedule.hpp"

namespace sch = uasyncd::schedule;
using schedule_test::text;
using schedule_test::utc;

namespace {

const std::vector<std::string> kZones{"Europe/Paris",   "America/Chicago", "Australia/Adelaide",
                                      "Asia/Jerusalem", "Africa/Cairo",    "Pacific/Auckland",
                                      "America/Havana", "Europe/Lisbon"};

// The next 200 fires of a fixed-time and an interval-like expression in every zone, as text.
std::vector<std::string> fires_in_all_zones() {
  std::vector<std::string> out;
  for (const std::string& zone : kZones) {
    for (const char* cron : {"30 2 * * *", "*/20 * * * *"}) {
      sch::Parsed<sch::Schedule> s = sch::make_cron_schedule(cron, zone);
      if (!s) {
        out.push_back(s.error.message);
        continue;
      }
      for (sch::Instant fire : sch::next_fires(*s.value, utc("2026-03-01T00:00:00Z"), 200)) {
        out.push_back(text(std::optional(fire)));
      }
    }
  }
  return out;
}

}  // namespace

TEST(ScheduleThreads, ZonesLoadedAndUsedByManyThreadsAtOnce) {
  constexpr int kThreads = 4;
  std::vector<std::vector<std::string>> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&results, i] { results[i] = fires_in_all_zones(); });
  }
  for (std::thread& t : threads)
    t.join();
  const std::vector<std::string> alone = fires_in_all_zones();
  ASSERT_EQ(alone.size(), kZones.size() * 2 * 200);
  for (int i = 0; i < kThreads; ++i)
    EXPECT_EQ(results[i], alone) << "thread " << i;
}
