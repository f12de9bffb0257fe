// The uasyncd side of the peer benchmark (bench/peers/run.sh): one workload per run, against a
// daemon on 127.0.0.1:PORT, printing one JSON line of figures. The BullMQ and Celery clients
// beside this file run the same workloads and print the same fields.
//   uasyncd_client PORT throughput N CONNECTIONS    N {"sleep_ms":0}: first submit -> all finished
//   uasyncd_client PORT latency N                   one client: POST, then GET .../wait; N times
//   uasyncd_client PORT latency_one_trip N          one client: POST /api/tasks?wait=S; N times
//   uasyncd_client PORT timed N CONNECTIONS         N {"sleep":1}: first submit -> all finished
//   uasyncd_client PORT cancel N CONNECTIONS        N running tasks: first cancel -> all cancelled
//   uasyncd_client PORT fill N CONNECTIONS          N {"sleep_ms":0}, returns once all finished
//   uasyncd_client PORT batch N BATCH CONNECTIONS   N tasks as JSON arrays of BATCH: submits/s
// Every connection is a keep-alive one with TCP_NODELAY (else Nagle holds the body behind the
// headers for 40 ms). Completion is observed by polling GET /api/stats every 2 ms.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr const char* kTrivial = R"({"sleep_ms": 0})";
constexpr const char* kSleepOne = R"({"sleep": 1})";
constexpr const char* kSleepLong = R"({"sleep": 3600})";

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::unique_ptr<httplib::Client> connect(int port) {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", port);
  c->set_keep_alive(true);
  c->set_tcp_nodelay(true);
  c->set_read_timeout(60);
  c->set_write_timeout(60);
  return c;
}

[[noreturn]] void fail(const std::string& why) {
  std::printf("%s\n", json{{"error", why}}.dump().c_str());
  std::exit(1);
}

json get_json(httplib::Client& c, const std::string& path) {
  auto r = c.Get(path);
  if (!r || r->status != 200) fail("GET " + path + " failed");
  return json::parse(r->body);
}

// Runs body(i, client) on `connections` threads, thread i getting items [begin, end) of n.
void on_threads(int port, int n, int connections,
                const std::function<void(int, int, httplib::Client&)>& body) {
  std::vector<std::thread> threads;
  for (int t = 0; t < connections; ++t) {
    const int begin = static_cast<int>(static_cast<long>(n) * t / connections);
    const int end = static_cast<int>(static_cast<long>(n) * (t + 1) / connections);
    threads.emplace_back([port, begin, end, &body] {
      auto c = connect(port);
      body(begin, end, *c);
    });
  }
  for (std::thread& t : threads)
    t.join();
}

std::int64_t state_count(const json& stats, const char* state) {
  return stats.at("tasks").at(state).get<std::int64_t>();
}

// Polls /api/stats until done(stats) holds; gives up after `limit` seconds.
void poll_until(httplib::Client& c, const std::function<bool(const json&)>& done,
                double limit = 600) {
  const auto start = Clock::now();
  while (!done(get_json(c, "/api/stats"))) {
    if (seconds_since(start) > limit) fail("timed out waiting for the daemon");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// Submits n copies of spec over `connections` connections; returns the ids in order (or none
// when ids are not wanted) and counts answers that are not 201 in `errors`.
std::vector<std::string> submit_all(int port, int n, int connections, const char* spec,
                                    std::atomic<long>& errors, bool keep_ids) {
  std::vector<std::string> ids(keep_ids ? n : 0);
  on_threads(port, n, connections, [&](int begin, int end, httplib::Client& c) {
    for (int i = begin; i < end; ++i) {
      auto r = c.Post("/api/tasks", spec, "application/json");
      if (!r || r->status != 201) {
        errors.fetch_add(1, std::memory_order_relaxed);
      } else if (keep_ids) {
        ids[i] = json::parse(r->body).at("id").get<std::string>();
      }
    }
  });
  return ids;
}

bool all_finished(const json& stats, std::int64_t submitted) {
  return stats.at("submitted_total").get<std::int64_t>() >= submitted &&
         state_count(stats, "pending") == 0 && state_count(stats, "running") == 0;
}

// Submits n copies of spec and waits until none is pending or running.
int run_to_completion(int port, int n, int connections, const char* spec) {
  auto poller = connect(port);
  const std::int64_t before =
      get_json(*poller, "/api/stats").at("submitted_total").get<std::int64_t>();
  std::atomic<long> errors{0};
  const auto start = Clock::now();
  submit_all(port, n, connections, spec, errors, false);
  const double submitted_after = seconds_since(start);
  poll_until(*poller, [&](const json& s) { return all_finished(s, before + n - errors.load()); });
  const double elapsed = seconds_since(start);
  std::printf("%s\n", json{{"jobs", n},
                           {"errors", errors.load()},
                           {"seconds", elapsed},
                           {"submit_seconds", submitted_after},
                           {"per_second", n / elapsed}}
                          .dump()
                          .c_str());
  return errors.load() == 0 ? 0 : 1;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

bool is_final(const std::string& state) {
  return state == "done" || state == "failed" || state == "cancelled" || state == "timed_out";
}

// Submit and wait, one client: POST, then GET .../wait (two round trips); or, one_round_trip,
// POST /api/tasks?wait=S, if this build honours it (else that is reported, not measured).
int latency(int port, int n, bool one_round_trip) {
  auto c = connect(port);
  std::vector<double> ms;
  ms.reserve(n);
  long errors = 0;
  for (int i = 0; i < n; ++i) {
    const auto start = Clock::now();
    if (one_round_trip) {
      auto r = c->Post("/api/tasks?wait=30", kTrivial, "application/json");
      if (!r || (r->status != 200 && r->status != 201)) {
        ++errors;
        continue;
      }
      if (!is_final(json::parse(r->body).at("state").get<std::string>())) {
        if (i == 0) {
          std::printf("%s\n", json{{"unsupported",
                                    "POST /api/tasks?wait= answered before the task "
                                    "finished: not supported by this build"}}
                                  .dump()
                                  .c_str());
          return 0;
        }
        ++errors;
        continue;
      }
    } else {
      auto r = c->Post("/api/tasks", kTrivial, "application/json");
      if (!r || r->status != 201) {
        ++errors;
        continue;
      }
      const std::string id = json::parse(r->body).at("id").get<std::string>();
      auto w = c->Get("/api/tasks/" + id + "/wait?timeout=30");
      if (!w || w->status != 200) {
        ++errors;
        continue;
      }
    }
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  if (ms.empty()) fail("no submit succeeded");
  std::printf("%s\n", json{{"jobs", n},
                           {"errors", errors},
                           {"p50_ms", percentile(ms, 0.50)},
                           {"p99_ms", percentile(ms, 0.99)}}
                          .dump()
                          .c_str());
  return errors == 0 ? 0 : 1;
}

// n tasks that sleep an hour; once all run, cancels each with its own request.
int cancel(int port, int n, int connections) {
  auto poller = connect(port);
  const std::int64_t cancelled_before = state_count(get_json(*poller, "/api/stats"), "cancelled");
  std::atomic<long> errors{0};
  const std::vector<std::string> ids = submit_all(port, n, connections, kSleepLong, errors, true);
  if (errors.load() != 0) fail("submits failed");
  poll_until(*poller, [&](const json& s) { return state_count(s, "running") >= n; });
  const auto start = Clock::now();
  on_threads(port, n, connections, [&](int begin, int end, httplib::Client& c) {
    for (int i = begin; i < end; ++i) {
      auto r = c.Post("/api/tasks/" + ids[i] + "/cancel");
      if (!r || r->status != 202) errors.fetch_add(1, std::memory_order_relaxed);
    }
  });
  poll_until(*poller,
             [&](const json& s) { return state_count(s, "cancelled") >= cancelled_before + n; });
  const double elapsed = seconds_since(start);
  std::printf("%s\n",
              json{{"jobs", n}, {"errors", errors.load()}, {"seconds", elapsed}}.dump().c_str());
  return errors.load() == 0 ? 0 : 1;
}

// n tasks in arrays of `batch`; the rate of acknowledged tasks. A daemon that refuses an array
// (400) has no batch submit: that is reported, not measured.
int batch(int port, int n, int batch_size, int connections) {
  std::string body = "[";
  for (int i = 0; i < batch_size; ++i) {
    if (i != 0) body += ',';
    body += kTrivial;
  }
  body += ']';
  {
    // A one-element array: a build without batch submit refuses it as a spec that is not an
    // object (400); one with it creates the task, which the count below does not include.
    auto probe = connect(port);
    auto r = probe->Post("/api/tasks", "[" + std::string(kTrivial) + "]", "application/json");
    if (r && r->status == 400) {
      std::printf("%s\n", json{{"unsupported", "uasyncd batch submit: not supported by this build"}}
                              .dump()
                              .c_str());
      return 0;
    }
    if (!r || (r->status != 200 && r->status != 201)) fail("the batch probe failed");
  }
  auto poller = connect(port);
  const std::int64_t before =
      get_json(*poller, "/api/stats").at("submitted_total").get<std::int64_t>();
  const int batches = n / batch_size;
  std::atomic<long> errors{0};
  const auto start = Clock::now();
  on_threads(port, batches, connections, [&](int begin, int end, httplib::Client& c) {
    for (int i = begin; i < end; ++i) {
      auto r = c.Post("/api/tasks", body, "application/json");
      if (!r || (r->status != 200 && r->status != 201))
        errors.fetch_add(1, std::memory_order_relaxed);
    }
  });
  const double elapsed = seconds_since(start);
  const std::int64_t created =
      get_json(*poller, "/api/stats").at("submitted_total").get<std::int64_t>() - before;
  if (created != static_cast<std::int64_t>(batches) * batch_size) {
    fail("the daemon acknowledged batches but created " + std::to_string(created) + " tasks");
  }
  // Let the tasks finish, so the next measurement on this daemon starts from rest.
  poll_until(*poller, [&](const json& s) { return all_finished(s, before + created); });
  std::printf("%s\n", json{{"jobs", created},
                           {"errors", errors.load()},
                           {"seconds", elapsed},
                           {"per_second", static_cast<double>(created) / elapsed}}
                          .dump()
                          .c_str());
  return errors.load() == 0 ? 0 : 1;
}

int arg(char** argv, int argc, int i, int fallback) {
  return i < argc ? std::atoi(argv[i]) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: uasyncd_client PORT throughput|latency|latency_one_trip|timed|cancel|fill|"
                 "batch N ...\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const std::string workload = argv[2];
  const int n = std::atoi(argv[3]);
  if (workload == "throughput" || workload == "fill") {
    return run_to_completion(port, n, arg(argv, argc, 4, 16), kTrivial);
  }
  if (workload == "timed") return run_to_completion(port, n, arg(argv, argc, 4, 16), kSleepOne);
  if (workload == "latency") return latency(port, n, false);
  if (workload == "latency_one_trip") return latency(port, n, true);
  if (workload == "cancel") return cancel(port, n, arg(argv, argc, 4, 16));
  if (workload == "batch") return batch(port, n, arg(argv, argc, 4, 1000), arg(argv, argc, 5, 4));
  std::fprintf(stderr, "unknown workload %s\n", workload.c_str());
  return 2;
}
