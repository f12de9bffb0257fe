// Latency probes of cluster mode for bench/cluster_bench.sh (daemons started by the script):
//   cluster_probe cancel A_PORT B_PORT N
//     N times: submits {"exec": ["sleep", "<unique number>"]} through A (so A holds and runs it),
//     waits until the task runs and its sleep process exists (found by its unique argument in
//     /proc/*/cmdline), then times POST /api/tasks/{id}/cancel sent to B (expected: 202) until
//     the process is gone (/proc/PID missing, or a zombie: dead, not yet reaped). Prints one
//     JSON line: the answers, p50/p99/max in ms.
//   cluster_probe failover A_PID A_PORT B_PORT TASKS [STOP]
//     submits TASKS {"name": "failover", "sleep": 60, "retries": 1} tasks through A, waits until
//     all run there, SIGKILLs A_PID (with STOP: SIGSTOPs it, so that its connections stay open
//     and only its lease can expire), and polls B until every one of them runs again (state
//     running, attempts 2), then cancels them through B. Prints one JSON line: seconds from the
//     signal to the first and to the last running again, and the task ids.
//   cluster_probe events A_PORT C_PORT N
//     opens GET /api/events on C (a streaming client on a thread of its own), waits for its
//     "hello", then N times: after a random pause of 0-100 ms (so that the submits fall at any
//     phase of the senders' and the stream's batching), submits {"name": "event-probe",
//     "sleep_ms": 20} to A and waits (up to 3 s) for the task's "finished" event on C. An event's
//     "time" is A's wall clock of the transition (ms resolution) and all runs on one machine, so
//     its latency is the wall time its SSE frame arrived on C minus that "time". Also the time
//     from sending the submit to the arrival of the "submitted" event. Frames may carry one event
//     or a JSON array of them. A second stream, on A itself, gives the same figure without
//     forwarding (the baseline: the stream's own batching). Prints one JSON line: p50/p99/max of
//     each and the events missing. A task submitted to A is held and run by A (as for cancel).
// Nothing here reads the database: the script checks owners and attempts with psql.
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::optional<json> get_json(httplib::Client& c, const std::string& path) {
  auto r = c.Get(path);
  if (!r || r->status != 200) return std::nullopt;
  return json::parse(r->body, nullptr, false);
}

std::string submit(httplib::Client& c, const json& spec) {
  auto r = c.Post("/api/tasks", spec.dump(), "application/json");
  if (!r || r->status != 201) {
    std::fprintf(stderr, "cluster_probe: submit answered %d: %s\n", r ? r->status : -1,
                 r ? r->body.c_str() : httplib::to_string(r.error()).c_str());
    std::exit(1);
  }
  return json::parse(r->body).at("id").get<std::string>();
}

// Waits until the task's state is `state` (and, if attempts > 0, its attempts are that many).
bool wait_state(httplib::Client& c, const std::string& id, const std::string& state, int attempts,
                double limit_ms, int poll_us) {
  const auto start = Clock::now();
  while (ms_since(start) < limit_ms) {
    if (auto doc = get_json(c, "/api/tasks/" + id); doc && !doc->is_discarded()) {
      if (doc->value("state", "") == state &&
          (attempts == 0 || doc->value("attempts", 0) == attempts))
        return true;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(poll_us));
  }
  return false;
}

// The whole of a /proc file, or "" if it cannot be read (such as a process that just went).
std::string read_proc(const std::string& path) {
  std::string text;
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return text;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
    text.append(buf, n);
  std::fclose(f);
  return text;
}

// The pid of the process whose command line is exactly argv (NUL-separated), or -1.
int find_process(const std::string& cmdline) {
  DIR* proc = opendir("/proc");
  if (!proc) return -1;
  int found = -1;
  while (dirent* e = readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    if (read_proc(std::string("/proc/") + e->d_name + "/cmdline") == cmdline) {
      found = std::atoi(e->d_name);
      break;
    }
  }
  closedir(proc);
  return found;
}

// Gone: no /proc entry, or a zombie (it has exited; only its parent's wait is missing).
bool process_gone(int pid) {
  const std::string stat = read_proc("/proc/" + std::to_string(pid) + "/stat");
  const std::size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return true;
  return stat[paren + 2] == 'Z' || stat[paren + 2] == 'X';
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))];
}

httplib::Client client(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_keep_alive(true);
  c.set_tcp_nodelay(true);
  c.set_read_timeout(10);
  return c;
}

int cancel(int a_port, int b_port, int n) {
  httplib::Client a = client(a_port);
  httplib::Client b = client(b_port);
  std::vector<double> gone_ms;
  std::vector<double> answer_ms;
  int accepted = 0;  // 202
  int other = 0;     // any other answer
  int lost = 0;      // the process did not go within 5 s
  const auto begun = Clock::now();
  int done = 0;
  for (int i = 0; i < n && ms_since(begun) < 60'000; ++i, ++done) {  // bounded: 60 s in all
    // A number no other process on the machine has as its argument.
    const std::string arg = "3600." + std::to_string(getpid()) + std::to_string(1000 + i);
    const std::string id = submit(a, json{{"exec", {"sleep", arg}}});
    const std::string cmdline = std::string("sleep") + '\0' + arg + '\0';
    int pid = -1;
    const auto start = Clock::now();
    while (pid < 0 && ms_since(start) < 10'000) {
      pid = find_process(cmdline);
      if (pid < 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (pid < 0 || !wait_state(a, id, "running", 0, 5'000, 1000)) {
      std::fprintf(stderr, "cluster_probe: task %s did not start its process\n", id.c_str());
      return 1;
    }
    const auto sent = Clock::now();
    auto r = b.Post("/api/tasks/" + id + "/cancel");
    answer_ms.push_back(ms_since(sent));
    if (r && r->status == 202) {
      ++accepted;
    } else {
      ++other;
      std::fprintf(stderr, "cluster_probe: cancel of %s through B answered %d\n", id.c_str(),
                   r ? r->status : -1);
    }
    while (!process_gone(pid) && ms_since(sent) < 5'000)
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    if (process_gone(pid)) {
      gone_ms.push_back(ms_since(sent));
    } else {
      ++lost;
      kill(pid, SIGKILL);
    }
  }
  std::printf(
      "{\"cancels\": %d, \"answered_202\": %d, \"answered_other\": %d, \"not_gone_in_5s\": %d, "
      "\"p50_ms\": %.2f, \"p99_ms\": %.2f, \"max_ms\": %.2f, \"answer_p50_ms\": %.2f}\n",
      done, accepted, other, lost, percentile(gone_ms, 0.5), percentile(gone_ms, 0.99),
      percentile(gone_ms, 1.0), percentile(answer_ms, 0.5));
  return 0;
}

int failover(int a_pid, int a_port, int b_port, int tasks, bool stop_only) {
  httplib::Client a = client(a_port);
  httplib::Client b = client(b_port);
  std::vector<std::string> ids;
  for (int i = 0; i < tasks; ++i)
    ids.push_back(submit(a, json{{"name", "failover"}, {"sleep", 60}, {"retries", 1}}));
  for (const std::string& id : ids) {
    if (!wait_state(a, id, "running", 1, 10'000, 5'000)) {
      std::fprintf(stderr, "cluster_probe: %s did not start on A\n", id.c_str());
      return 1;
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // a heartbeat with them running
  const auto killed = Clock::now();
  if (kill(a_pid, stop_only ? SIGSTOP : SIGKILL) != 0) {
    std::perror("cluster_probe: kill");
    return 1;
  }
  std::vector<bool> again(ids.size(), false);
  double first = -1, last = -1;
  std::size_t left = ids.size();
  while (left > 0 && ms_since(killed) < 15'000) {
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (again[i]) continue;
      auto doc = get_json(b, "/api/tasks/" + ids[i]);
      if (doc && !doc->is_discarded() && doc->value("state", "") == "running" &&
          doc->value("attempts", 0) >= 2) {
        again[i] = true;
        --left;
        const double s = ms_since(killed) / 1000;
        if (first < 0) first = s;
        last = s;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::string list;
  for (const std::string& id : ids) {
    list += (list.empty() ? "\"" : ", \"") + id + "\"";
    b.Post("/api/tasks/" + id + "/cancel");  // so that a later kill does not move them again
  }
  std::printf(
      "{\"tasks\": %d, \"running_again\": %zu, \"first_s\": %.3f, \"last_s\": %.3f, "
      "\"ids\": [%s]}\n",
      tasks, ids.size() - left, first, last, list.c_str());
  return 0;
}

// Seconds since the epoch, as the events' "time".
double wall_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// What C's stream said about one task: arrival wall times (seconds) and the events' "time".
struct Seen {
  double submitted_at = -1, submitted_time = -1;
  double finished_at = -1, finished_time = -1;
};

// GET /api/events on a thread of its own, parsing the SSE text as it arrives.
class EventStream {
 public:
  explicit EventStream(int port) : client_("127.0.0.1", port) {
    client_.set_tcp_nodelay(true);
    client_.set_read_timeout(60);
    thread_ = std::thread([this] { run(); });
  }
  ~EventStream() {
    stopping_ = true;
    client_.stop();
    thread_.join();
  }
  bool wait_hello(double limit_ms) {
    std::unique_lock lock(m_);
    return cv_.wait_for(lock, std::chrono::duration<double, std::milli>(limit_ms), [this] {
      return hello_ || ended_;
    }) && hello_;
  }
  // The task's record once its "finished" event arrived, or nothing after limit_ms.
  std::optional<Seen> wait_finished(const std::string& id, double limit_ms) {
    std::unique_lock lock(m_);
    const bool ok = cv_.wait_for(lock, std::chrono::duration<double, std::milli>(limit_ms), [&] {
      auto it = seen_.find(id);
      return ended_ || (it != seen_.end() && it->second.finished_at >= 0);
    });
    auto it = seen_.find(id);
    if (!ok || it == seen_.end() || it->second.finished_at < 0) return std::nullopt;
    return it->second;
  }
  Seen get(const std::string& id) {
    std::lock_guard lock(m_);
    auto it = seen_.find(id);
    return it == seen_.end() ? Seen{} : it->second;
  }
  long frames() {
    std::lock_guard lock(m_);
    return frames_;
  }
  long batched_frames() {
    std::lock_guard lock(m_);
    return batched_;
  }

 private:
  void run() {
    auto r = client_.Get("/api/events", httplib::Headers{{"Accept", "text/event-stream"}},
                         [this](const char* data, std::size_t n) {
                           const double at = wall_s();
                           std::lock_guard lock(m_);
                           buffer_.append(data, n);
                           std::size_t nl;
                           while ((nl = buffer_.find('\n')) != std::string::npos) {
                             std::string line = buffer_.substr(0, nl);
                             buffer_.erase(0, nl + 1);
                             if (!line.empty() && line.back() == '\r') line.pop_back();
                             this->line(line, at);
                           }
                           cv_.notify_all();
                           return !stopping_.load();
                         });
    if (!stopping_ && (!r || r->status != 200))
      std::fprintf(stderr, "cluster_probe: GET /api/events on C: %s\n",
                   r ? std::to_string(r->status).c_str() : httplib::to_string(r.error()).c_str());
    std::lock_guard lock(m_);
    ended_ = true;
    cv_.notify_all();
  }
  void line(const std::string& line, double at) {  // under m_
    if (line.empty()) {                            // the end of a frame
      dispatch(at);
      event_.clear();
      data_.clear();
    } else if (line.rfind("event:", 0) == 0) {
      event_ = line.substr(line.size() > 6 && line[6] == ' ' ? 7 : 6);
    } else if (line.rfind("data:", 0) == 0) {
      if (!data_.empty()) data_ += '\n';
      data_ += line.substr(line.size() > 5 && line[5] == ' ' ? 6 : 5);
    }
  }
  void dispatch(double at) {
    if (event_ == "hello") hello_ = true;
    if (data_.empty() || (!event_.empty() && event_ != "message")) return;
    json doc = json::parse(data_, nullptr, false);
    if (doc.is_discarded()) return;
    ++frames_;
    if (doc.is_array() && doc.size() > 1) ++batched_;
    if (!doc.is_array()) doc = json::array({doc});
    for (const json& e : doc) {
      if (!e.is_object() || !e.contains("id") || !e["id"].is_string()) continue;
      const std::string type = e.value("type", "");
      const double time =
          e.contains("time") && e["time"].is_number() ? e["time"].get<double>() : -1;
      Seen& s = seen_[e["id"].get<std::string>()];
      if (type == "submitted" && s.submitted_at < 0) {
        s.submitted_at = at;
        s.submitted_time = time;
      } else if (type == "finished" && s.finished_at < 0) {
        s.finished_at = at;
        s.finished_time = time;
      }
    }
  }

  httplib::Client client_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex m_;
  std::condition_variable cv_;
  std::string buffer_, event_, data_;
  bool hello_ = false, ended_ = false;
  long frames_ = 0, batched_ = 0;
  std::map<std::string, Seen> seen_;
};

int events(int a_port, int c_port, int n) {
  httplib::Client a = client(a_port);
  EventStream stream(c_port);
  EventStream local(a_port);  // the baseline: A's own stream, no forwarding
  if (!stream.wait_hello(5'000) || !local.wait_hello(5'000)) {
    std::fprintf(stderr, "cluster_probe: no hello on an event stream (C, A) in 5 s\n");
    return 1;
  }
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> pause_us(0, 100'000);
  std::vector<double> finished_ms, submitted_ms, submitted_event_ms, local_ms;
  int missing_finished = 0, missing_submitted = 0, missing_local = 0;
  std::vector<std::pair<std::string, double>> sent;
  const auto begun = Clock::now();
  int done = 0;
  for (int i = 0; i < n && ms_since(begun) < 60'000; ++i, ++done) {  // bounded: 60 s in all
    std::this_thread::sleep_for(std::chrono::microseconds(pause_us(rng)));
    const double at = wall_s();
    const std::string id = submit(a, json{{"name", "event-probe"}, {"sleep_ms", 20}});
    sent.emplace_back(id, at);
    if (auto s = stream.wait_finished(id, 3'000)) {
      finished_ms.push_back((s->finished_at - s->finished_time) * 1000);
    } else {
      ++missing_finished;
      std::fprintf(stderr, "cluster_probe: no finished event for %s on C in 3 s\n", id.c_str());
    }
  }
  for (const auto& [id, at] : sent) {
    if (auto l = local.wait_finished(id, 1'000))
      local_ms.push_back((l->finished_at - l->finished_time) * 1000);
    else
      ++missing_local;
  }
  for (const auto& [id, at] : sent) {  // a late submitted event still counts
    const Seen s = stream.get(id);
    if (s.submitted_at < 0) {
      ++missing_submitted;
      continue;
    }
    submitted_ms.push_back((s.submitted_at - at) * 1000);
    submitted_event_ms.push_back((s.submitted_at - s.submitted_time) * 1000);
  }
  std::printf(
      "{\"tasks\": %d, \"finished_seen\": %zu, \"finished_missing\": %d, \"p50_ms\": %.1f, "
      "\"p99_ms\": %.1f, \"max_ms\": %.1f, \"submitted_seen\": %zu, \"submitted_missing\": %d, "
      "\"submit_p50_ms\": %.1f, \"submit_p99_ms\": %.1f, \"submit_max_ms\": %.1f, "
      "\"submitted_event_p50_ms\": %.1f, \"submitted_event_p99_ms\": %.1f, \"frames\": %ld, "
      "\"frames_with_several\": %ld, \"local_p50_ms\": %.1f, \"local_p99_ms\": %.1f, "
      "\"local_max_ms\": %.1f, \"local_missing\": %d}\n",
      done, finished_ms.size(), missing_finished, percentile(finished_ms, 0.5),
      percentile(finished_ms, 0.99), percentile(finished_ms, 1.0), submitted_ms.size(),
      missing_submitted, percentile(submitted_ms, 0.5), percentile(submitted_ms, 0.99),
      percentile(submitted_ms, 1.0), percentile(submitted_event_ms, 0.5),
      percentile(submitted_event_ms, 0.99), stream.frames(), stream.batched_frames(),
      percentile(local_ms, 0.5), percentile(local_ms, 0.99), percentile(local_ms, 1.0),
      missing_local);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "";
  if (what == "cancel" && argc == 5)
    return cancel(std::atoi(argv[2]), std::atoi(argv[3]), std::atoi(argv[4]));
  if (what == "failover" && (argc == 6 || (argc == 7 && std::string(argv[6]) == "STOP")))
    return failover(std::atoi(argv[2]), std::atoi(argv[3]), std::atoi(argv[4]), std::atoi(argv[5]),
                    argc == 7);
  if (what == "events" && argc == 5)
    return events(std::atoi(argv[2]), std::atoi(argv[3]), std::atoi(argv[4]));
  std::fprintf(stderr,
               "usage: cluster_probe cancel A_PORT B_PORT N\n"
               "       cluster_probe failover A_PID A_PORT B_PORT TASKS [STOP]\n"
               "       cluster_probe events A_PORT C_PORT N\n");
  return 2;
}
