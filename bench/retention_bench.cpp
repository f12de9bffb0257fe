// Memory and read latency of the daemon with many retained finished jobs (issue 12), each figure
// printed next to its target:
//   (a) RSS growth per 100,000 retained finished jobs, durable (SQLite) mode: <= 20 MiB
//       (ephemeral mode printed for comparison, no target)
//   (b) M jobs retained in the file (default 200,000; 10,000,000 by hand): RSS stays flat (growth
//       over an empty store <= 20 MiB), and GET by id, GET /api/tasks, ?state= and ?name= lists
//       stay under 5 ms p99. A ?state= list pages through an index: O(page), not O(retained).
//
//   retention_bench [--tasks N] [--retained M] [--samples K]
// The daemon is the real binary (UASYNCD_BIN), run as a child so its RSS is its own; (b) fills
// the file through the SQLite backend first, as fast as group commits allow.
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "uasyncd/job/job.hpp"
#include "uasyncd/store/job_backend.hpp"

namespace srv = uasyncd::server;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double rss_mib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

const char* verdict(bool ok) {
  return ok ? "ok" : "MISSED";
}

// The daemon binary as a child process on an ephemeral port.
class Daemon {
 public:
  Daemon(const std::vector<std::string>& flags, const std::string& log) {
    std::vector<std::string> args{UASYNCD_BIN, "--listen", "127.0.0.1:0", "--log-level", "warn"};
    args.insert(args.end(), flags.begin(), flags.end());
    std::fflush(stdout);
    pid_ = fork();
    if (pid_ == 0) {
      std::freopen(log.c_str(), "w", stdout);
      std::freopen(log.c_str(), "a", stderr);
      std::vector<char*> argv;
      for (std::string& a : args)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(UASYNCD_BIN, argv.data());
      _exit(127);
    }
    const std::regex listening(R"(listening on [^\n]*:(\d+))");
    for (int i = 0; i < 6000 && port_ == 0; ++i) {
      std::ifstream in(log);
      std::stringstream s;
      s << in.rdbuf();
      std::smatch m;
      const std::string text = s.str();
      if (std::regex_search(text, m, listening)) port_ = std::stoi(m[1]);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (port_ == 0) {
      std::fprintf(stderr, "the daemon did not start (see %s)\n", log.c_str());
      std::exit(1);
    }
  }
  ~Daemon() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

// Submits `n` {"value": i} jobs over 8 keep-alive connections, then waits until none is live.
void submit(int port, int n) {
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      httplib::Client c("127.0.0.1", port);
      c.set_keep_alive(true);
      c.set_tcp_nodelay(true);
      for (int i; (i = next++) < n;) {
        auto r = c.Post("/api/tasks", "{\"value\": " + std::to_string(i) + "}", "application/json");
        if (!r || r->status != 201) {
          std::fprintf(
              stderr, "submit failed: %s\n",
              r ? std::to_string(r->status).c_str() : httplib::to_string(r.error()).c_str());
          std::exit(1);
        }
      }
    });
  }
  for (auto& t : threads)
    t.join();
  httplib::Client c("127.0.0.1", port);
  for (;;) {
    auto r = c.Get("/api/stats");
    const json s = json::parse(r->body);
    if (s["tasks"]["pending"] == 0 && s["tasks"]["running"] == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

double growth_per_100k(const std::vector<std::string>& flags, const std::string& log, int n) {
  Daemon d(flags, log);
  submit(d.port(), 1000);  // warm-up: the libraries' and the allocator's one-time costs
  const double before = rss_mib(d.pid());
  submit(d.port(), n);
  const double after = rss_mib(d.pid());
  std::printf("    RSS %.1f -> %.1f MiB after %d more jobs\n", before, after, n);
  return (after - before) * 100'000.0 / n;
}

// Fills DIR/uasyncd.db with `m` finished jobs: one in ten failed, names "job-0".."job-99".
void fill(const std::string& dir, std::uint64_t m) {
  srv::SqliteOptions sqlite;
  sqlite.dir = dir;
  sqlite.full_sync = false;
  srv::BackendOptions options;
  options.retention.keep_finished = m + 1'000'000;
  auto backend = srv::open_sqlite_backend(sqlite, options);
  std::vector<std::shared_ptr<const srv::JobSpec>> specs;
  std::vector<std::shared_ptr<const json>> docs;
  for (int k = 0; k < 100; ++k) {
    const json doc = {{"name", "job-" + std::to_string(k)}, {"value", k}};
    docs.push_back(std::make_shared<json>(doc));
    specs.push_back(std::make_shared<srv::JobSpec>(std::move(*srv::parse_job_spec(doc).spec)));
  }
  const std::int64_t now = srv::wall_ms();
  srv::WriteTicket last = 0;
  for (std::uint64_t i = 0; i < m; ++i) {
    const std::uint64_t id = backend->next_id();
    srv::Job job(id, specs[id % 100], docs[id % 100], now - 1000);
    job.start(now - 999);
    if (id % 10 == 0) {
      job.finish(srv::JobState::failed, json(), srv::ErrorInfo{"Exception", "boom"}, now - 998);
    } else {
      job.finish(srv::JobState::done, json(id % 100), std::nullopt, now - 998);
    }
    last = backend->insert(job);
    if (i % 20'000 == 19'999) backend->wait_committed(last, std::chrono::minutes(5));
  }
  backend->wait_committed(last, std::chrono::minutes(5));
  backend->close();
}

struct Latency {
  double p50 = 0, p99 = 0;
};

Latency measure(int port, int samples, const std::function<std::string(std::mt19937_64&)>& path) {
  httplib::Client c("127.0.0.1", port);
  c.set_keep_alive(true);
  std::mt19937_64 rng(42);
  std::vector<double> ms;
  for (int i = 0; i < samples; ++i) {
    const std::string p = path(rng);
    const auto t0 = Clock::now();
    auto r = c.Get(p.c_str());
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (!r || r->status != 200) std::fprintf(stderr, "GET %s failed\n", p.c_str());
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 99 / 100)]};
}

}  // namespace

int main(int argc, char** argv) {
  int tasks = 100'000;
  std::uint64_t retained = 200'000;
  int samples = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--tasks") tasks = std::atoi(argv[i + 1]);
    if (flag == "--retained") retained = std::strtoull(argv[i + 1], nullptr, 10);
    if (flag == "--samples") samples = std::atoi(argv[i + 1]);
  }
  char tmpl[] = "/tmp/retention-bench-XXXXXX";
  const std::string work = mkdtemp(tmpl);
  std::printf("retention_bench | %u cores | load %s\n", std::thread::hardware_concurrency(),
              load_average().c_str());

  std::printf("(a) %d jobs submitted and finished, all retained\n", tasks);
  const std::string keep = std::to_string(10 * tasks + 10'000'000);
  const double durable =
      growth_per_100k({"--data-dir", work + "/a", "--keep-finished", keep, "--sync", "normal"},
                      work + "/a.log", tasks);
  std::printf("%-58s %7.1f MiB   target <= 20 MiB: %s\n",
              "RSS growth per 100,000 retained jobs, durable", durable, verdict(durable <= 20));
  const double ephemeral =
      growth_per_100k({"--ephemeral", "--keep-finished", keep}, work + "/e.log", tasks);
  std::printf("%-58s %7.1f MiB   (no target)\n", "RSS growth per 100,000 retained jobs, ephemeral",
              ephemeral);

  std::printf("(b) %llu finished jobs in the file\n", static_cast<unsigned long long>(retained));
  const auto t0 = Clock::now();
  fill(work + "/b", retained);
  std::printf("    filled in %.1f s\n", std::chrono::duration<double>(Clock::now() - t0).count());
  double empty_rss = 0;
  {
    Daemon empty({"--data-dir", work + "/empty"}, work + "/empty.log");
    submit(empty.port(), 1000);
    empty_rss = rss_mib(empty.pid());
  }
  const std::string keep_b = std::to_string(retained + 1'000'000);
  Daemon d({"--data-dir", work + "/b", "--keep-finished", keep_b}, work + "/b.log");
  const auto max_id = static_cast<std::int64_t>(retained);
  const auto any_id = [max_id](std::mt19937_64& rng) {
    return std::uniform_int_distribution<std::int64_t>(1, max_id)(rng);
  };
  struct Probe {
    const char* what;
    std::function<std::string(std::mt19937_64&)> path;
  };
  const std::vector<Probe> probes{
      {"GET /api/tasks/{random id}",
       [&](auto& rng) { return "/api/tasks/t" + std::to_string(any_id(rng)); }},
      {"GET /api/tasks?limit=100&cursor={random}",
       [&](auto& rng) { return "/api/tasks?limit=100&cursor=t" + std::to_string(any_id(rng)); }},
      {"GET /api/tasks?state=failed&limit=100&cursor={random}",
       [&](auto& rng) {
         return "/api/tasks?state=failed&limit=100&cursor=t" + std::to_string(any_id(rng));
       }},
      {"GET /api/tasks?name=job-7&limit=100&cursor={random}",
       [&](auto& rng) {
         return "/api/tasks?name=job-7&limit=100&cursor=t" + std::to_string(any_id(rng));
       }},
  };
  submit(d.port(), 1000);
  const double start_rss = rss_mib(d.pid());
  for (const Probe& p : probes) {
    const Latency l = measure(d.port(), samples, p.path);
    std::printf("%-58s p50 %5.2f ms  p99 %5.2f ms   target p99 <= 5 ms: %s\n", p.what, l.p50, l.p99,
                verdict(l.p99 <= 5));
  }
  const double end_rss = rss_mib(d.pid());
  std::printf(
      "%-58s %7.1f MiB   (empty store %.1f MiB, after the reads %.1f MiB)  target <= 20 "
      "MiB over empty: %s\n",
      "RSS with the retained jobs", start_rss, empty_rss, end_rss,
      verdict(std::max(start_rss, end_rss) - empty_rss <= 20));
  std::error_code ec;
  std::filesystem::remove_all(work, ec);
  return 0;
}
