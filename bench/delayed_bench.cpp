// Issue 16's figures for delayed tasks, in process (the job service on a real-clock loop over the
// memory backend, which keeps every row in RAM): the RAM a scheduled task costs beyond a finished
// one, and how late scheduled tasks start after their run_at (target: 100,000 tasks with distinct
// times, <= 100 B each beyond a finished task, p99 lateness <= 5 ms). RAM is the heap in use
// (mallinfo2), not RSS: freed memory the allocator keeps would count otherwise, and a scheduled
// task's job leaves RAM (parked) a moment after its submit.
//
//   delayed_bench [N] [WINDOW_S] [sqlite]   (default 100000 tasks due over 20 s, starting 2 s from
//                                           now; "sqlite": the tasks in an SQLite file, as the
//                                           daemon keeps them by default, where a finished task
//                                           costs no RAM, so all a scheduled one costs is beyond)
#include <malloc.h>
#include <uasyncio/uasyncio.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "uasyncd/service/job_service.hpp"

namespace srv = uasyncd::server;
namespace ua = uasyncio;
using nlohmann::json;

namespace {

std::vector<std::uint64_t> submit_all(srv::JobService& service, int n, double window_s) {
  std::vector<std::uint64_t> ids;
  ids.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    json spec{{"value", i}};
    if (window_s > 0) spec["delay"] = 2.0 + window_s * i / n;
    srv::ParsedSpec p = srv::parse_job_spec(spec);
    srv::Result<srv::Submitted> r = service.submit(std::move(*p.spec), spec);
    if (!r) {
      std::fprintf(stderr, "submit failed: %s\n", r.error().message.c_str());
      std::exit(1);
    }
    ids.push_back(r->id);
  }
  return ids;
}

std::int64_t heap_in_use() {
  return static_cast<std::int64_t>(mallinfo2().uordblks);
}

ua::Coro<void> pause_ms(std::int64_t ms) {
  co_await ua::sleep_ms(ms);
}

ua::Coro<void> until_none_left(srv::JobService* service) {
  while (service->unfinished() > 0 || service->scheduled() > 0)
    co_await ua::sleep_ms(50);
  co_await ua::sleep_ms(200);  // the last ends leave RAM once written
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 100'000;
  const double window_s = argc > 2 ? std::atof(argv[2]) : 20;
  const bool on_sqlite = argc > 3 && std::string(argv[3]) == "sqlite";
  ua::Loop& loop = ua::new_event_loop();
  loop.set_virtual_clock(false);
  srv::BackendOptions keep_all;
  keep_all.retention.keep_finished = static_cast<std::size_t>(2 * n);

  // Finished: n tasks run to their end; their rows stay in the backend's RAM.
  const std::int64_t base = heap_in_use();
  std::unique_ptr<srv::JobBackend> finished_store = srv::make_memory_backend(keep_all);
  {
    srv::JobService service({}, *finished_store);
    submit_all(service, n, 0);
    ua::run(until_none_left(&service));
  }
  const std::int64_t finished_heap = heap_in_use();
  const double per_finished = static_cast<double>(finished_heap - base) / n;

  // Scheduled: n tasks waiting for n distinct times (kept beside the finished ones, so the heap
  // grows for them rather than reusing what the first phase freed).
  std::string dir;
  std::unique_ptr<srv::JobBackend> store;
  if (on_sqlite) {
    char tmpl[] = "/tmp/uasyncd-delayed-XXXXXX";
    dir = mkdtemp(tmpl);
    srv::SqliteOptions sqlite;
    sqlite.dir = dir;
    sqlite.full_sync = false;
    store = srv::open_sqlite_backend(sqlite, keep_all);
  } else {
    store = srv::make_memory_backend(keep_all);
  }
  const std::int64_t before_scheduled = heap_in_use();
  srv::JobService service({}, *store);
  const std::vector<std::uint64_t> ids = submit_all(service, n, window_s);
  // The first are due 2 s after their submit: by 1 s every job is parked.
  ua::run(pause_ms(1000));
  const std::int64_t scheduled_heap = heap_in_use();
  const double per_scheduled = static_cast<double>(scheduled_heap - before_scheduled) / n;
  const std::size_t parked = service.parked();
  ua::run(until_none_left(&service));

  std::vector<std::int64_t> late;
  late.reserve(ids.size());
  for (std::uint64_t id : ids) {
    std::optional<srv::JobRow> row = store->get(id);
    if (!row || row->state != srv::JobState::done) {
      std::fprintf(stderr, "t%llu did not end done\n", static_cast<unsigned long long>(id));
      return 1;
    }
    late.push_back(row->started_ms - row->run_at_ms);
  }
  std::sort(late.begin(), late.end());
  const auto pct = [&](double p) {
    return late[std::min(late.size() - 1, static_cast<std::size_t>(p * late.size()))];
  };
  std::printf("tasks: %d, due over %.0f s, kept in %s\n", n, window_s,
              on_sqlite ? "an SQLite file" : "the memory backend");
  std::printf("RAM per finished task (its row in the memory backend): %.0f B\n", per_finished);
  if (on_sqlite) {
    // A finished task's row is on disk: it costs no RAM.
    std::printf(
        "RAM per scheduled task (%zu of %d parked; SQLite's page cache included): %.0f B, "
        "beyond a finished one: %.0f B (target <= 100 B)\n",
        parked, n, per_scheduled, per_scheduled);
  } else {
    std::printf(
        "RAM per scheduled task (its row included; %zu of %d parked): %.0f B, beyond a "
        "finished one: %.0f B (target <= 100 B)\n",
        parked, n, per_scheduled, per_scheduled - per_finished);
  }
  std::printf("start after run_at (wall ms): p50 %lld, p99 %lld (target <= 5), max %lld\n",
              static_cast<long long>(pct(0.5)), static_cast<long long>(pct(0.99)),
              static_cast<long long>(late.back()));
  store.reset();
  if (!dir.empty()) std::filesystem::remove_all(dir);
  return 0;
}
