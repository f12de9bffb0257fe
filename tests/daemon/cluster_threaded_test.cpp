// Cluster mode (docs/cluster.md) with the real binary: three daemons on one PostgreSQL database
// (the tests' own server, tests/support/pg-test-server.sh), a lease of 2 s. Tasks spread over the
// instances run once each; kill -9 and SIGSTOP of an instance move its tasks to the others and
// fence it; cancels cross instances; a cut of every database connection, or a restart of the
// server (one of the test's own), loses nothing. Event streams, waits and periodic schedules work
// across instances. The task rows are read straight from the database (libpq) to see owners and
// attempts.
#include <gtest/gtest.h>
#include <httplib.h>
#include <libpq-fe.h>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "crash_storm.hpp"
#include "daemon_process.hpp"
#include "pg_test_db.hpp"
#include "proc_scan.hpp"
#include "temp_dir.hpp"

extern "C" const char* __tsan_default_suppressions() {
  return "race:libcpp-httplib.so\n";
}

namespace {

using test_support::process_alive;
using test_support::processes_with;
using test_support::read_file_or_empty;
using test_support::unique_marker;

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kLeaseTtlS = 2;

// A database of the test's own, named after the test: "k_PID_NAME".
std::string test_database_name() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  static std::atomic<int> made{0};  // a test run again in one process (--gtest_repeat)
  std::string name = "k_";
  name += std::to_string(::getpid());
  name += '_';
  name += std::to_string(made++);
  name += '_';
  for (char c : std::string(info->name()))
    name += static_cast<char>(std::isalnum(static_cast<unsigned char>(c)) ? std::tolower(c) : '_');
  return name.substr(0, 63);
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Polls `done` every `poll` until it holds (true) or `limit` passes (false).
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit,
                std::chrono::milliseconds poll = 20ms) {
  const auto deadline = Clock::now() + limit;
  for (;;) {
    if (done()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);
  }
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

std::int64_t seq_of(const std::string& id) {
  return std::stoll(id.substr(1));
}
std::string id_of(std::int64_t seq) {
  std::string id = "t";
  id += std::to_string(seq);
  return id;
}

// A task row as the database has it.
struct Row {
  std::int64_t seq = 0;
  std::string state;
  std::int64_t attempts = 0;
  std::optional<std::int64_t> owner;
  std::int64_t started_ms = 0;
  bool cancel_requested = false;
};

std::string describe(const Row& r) {
  std::string s = id_of(r.seq);
  s += " state=";
  s += r.state;
  s += " attempts=";
  s += std::to_string(r.attempts);
  s += " owner=";
  s += r.owner ? std::to_string(*r.owner) : std::string("NULL");
  s += " started_ms=";
  s += std::to_string(r.started_ms);
  s += r.cancel_requested ? " cancel_requested" : "";
  return s;
}

bool final_state(const std::string& s) {
  return s == "done" || s == "failed" || s == "cancelled" || s == "timed_out" || s == "interrupted";
}

// The test's own connection to the cluster's database (libpq), reconnecting after a cut.
class Db {
 public:
  explicit Db(std::string url) : url_(std::move(url)) {}
  ~Db() {
    if (conn_ != nullptr) PQfinish(conn_);
  }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  using Cells = std::vector<std::optional<std::string>>;

  // The rows of `sql`, or nullopt (with error()) if it failed three times.
  std::optional<std::vector<Cells>> query(const std::string& sql) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
        if (conn_ != nullptr) PQfinish(conn_);
        conn_ = PQconnectdb(url_.c_str());
        if (PQstatus(conn_) != CONNECTION_OK) {
          error_ = PQerrorMessage(conn_);
          continue;
        }
      }
      PGresult* r = PQexec(conn_, sql.c_str());
      if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        std::vector<Cells> rows;
        for (int i = 0; i < PQntuples(r); ++i) {
          Cells cells;
          for (int j = 0; j < PQnfields(r); ++j) {
            cells.push_back(PQgetisnull(r, i, j) ? std::nullopt
                                                 : std::optional<std::string>(PQgetvalue(r, i, j)));
          }
          rows.push_back(std::move(cells));
        }
        PQclear(r);
        return rows;
      }
      error_ = PQresultErrorMessage(r);
      PQclear(r);
    }
    return std::nullopt;
  }

  // Every task row (or those `where` selects), by seq.
  std::map<std::int64_t, Row> tasks(const std::string& where = "") {
    std::string sql =
        "SELECT seq, state, attempts, owner, started_ms, cancel_requested_ms IS NOT NULL "
        "FROM uasyncd_tasks";
    if (!where.empty()) {
      sql += " WHERE ";
      sql += where;
    }
    std::map<std::int64_t, Row> out;
    const std::optional<std::vector<Cells>> rows = query(sql);
    if (!rows) {
      ADD_FAILURE() << "cannot read the task rows: " << error_;
      return out;
    }
    for (const Cells& c : *rows) {
      Row r;
      r.seq = std::stoll(*c[0]);
      r.state = *c[1];
      r.attempts = std::stoll(*c[2]);
      if (c[3]) r.owner = std::stoll(*c[3]);
      r.started_ms = std::stoll(*c[4]);
      r.cancel_requested = *c[5] == "t";
      out[r.seq] = r;
    }
    return out;
  }

  std::optional<Row> task(std::int64_t seq) {
    std::string where = "seq = ";
    where += std::to_string(seq);
    std::map<std::int64_t, Row> rows = tasks(where);
    if (rows.empty()) return std::nullopt;
    return rows.begin()->second;
  }

  const std::string& error() const { return error_; }

 private:
  std::string url_;
  PGconn* conn_ = nullptr;
  std::string error_;
};

// An HTTP answer: status 0 when there was none.
struct Reply {
  int status = 0;
  json body;
  std::string text;
};

Reply call(int port, const std::string& method, const std::string& path,
           const std::string& body = "") {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(5);
  c.set_read_timeout(10);
  httplib::Result r = method == "GET" ? c.Get(path) : c.Post(path, body, "application/json");
  Reply out;
  if (!r) return out;
  out.status = r->status;
  out.text = r->body;
  out.body = json::parse(r->body, nullptr, false);
  return out;
}

// Submits `spec` through `port`; the new task's id (the test fails without a 201).
std::string submit(int port, const json& spec) {
  const Reply r = call(port, "POST", "/api/tasks", spec.dump());
  EXPECT_EQ(r.status, 201) << r.text;
  return r.status == 201 ? r.body["id"].get<std::string>() : std::string();
}

// Runs `sql` on the maintenance database of the PostgreSQL server whose socket is in `socket_dir`;
// throws with the server's message.
void pg_admin_at(const std::string& socket_dir, const std::string& sql) {
  PGconn* c = PQconnectdb(("host=" + socket_dir + " user=uasyncd dbname=postgres").c_str());
  std::string error;
  if (PQstatus(c) != CONNECTION_OK) {
    error = PQerrorMessage(c);
  } else {
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
      error = PQresultErrorMessage(r);
    PQclear(r);
  }
  PQfinish(c);
  if (!error.empty()) throw std::runtime_error("postgres at " + socket_dir + ": " + error);
}

// Where a cluster's database is and how long its lease lasts.
struct ClusterSetup {
  std::string pg_socket;  // a server of the test's own (its socket directory); "": the shared one
  int lease_ttl_s = kLeaseTtlS;
};

// Three daemons (instances "a", "b", "c") on one new database, each with its own data dir and
// log, `--lease-ttl 2` (or the setup's) and its own extra flags. Stopped by SIGTERM at the end of
// the test.
class Cluster {
 public:
  explicit Cluster(const std::vector<std::vector<std::string>>& extra, ClusterSetup setup = {}) {
    db_name_ = test_database_name();
    if (setup.pg_socket.empty()) {
      url_ = uasyncd::test::pg_test_database(db_name_);
    } else {
      pg_admin_at(setup.pg_socket, "CREATE DATABASE " + db_name_);
      url_ = "host=" + setup.pg_socket + " user=uasyncd dbname=" + db_name_;
    }
    const char* names[] = {"a", "b", "c"};
    for (std::size_t i = 0; i < extra.size(); ++i) {
      std::vector<std::string> flags{
          "--database-url",  url_,     "--lease-ttl",      std::to_string(setup.lease_ttl_s),
          "--instance-name", names[i], "--shutdown-grace", "3"};
      flags.insert(flags.end(), extra[i].begin(), extra[i].end());
      std::vector<std::string> args = daemon_args(dir_ / names[i], flags);
      if (const char* level = std::getenv("UASYNCD_TEST_LOG_LEVEL")) {
        // More of the daemons' logs, for a failure: kept when a test fails (below).
        *(std::find(args.begin(), args.end(), "--log-level") + 1) = level;
      }
      args_.push_back(args);
      daemons_.push_back(std::make_unique<DaemonProcess>(args, log_of(i)));
    }
    for (auto& d : daemons_) {
      const std::optional<int> port = d->await_port();
      if (!port) throw std::runtime_error("a daemon did not start:\n" + d->output());
      ports_.push_back(*port);
    }
    for (std::size_t i = 0; i < daemons_.size(); ++i)
      ids_.push_back(self_id(ports_[i]));
  }
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;
  ~Cluster() {
    stop();
    if (!::testing::Test::HasFailure()) return;
    // The logs (those of earlier runs of a restarted instance too) outlive a failed test's
    // directory.
    std::error_code ec;
    const std::filesystem::path kept =
        std::filesystem::temp_directory_path() / "uasyncd-cluster-test-logs" / db_name_;
    std::filesystem::create_directories(kept, ec);
    for (const auto& e : std::filesystem::directory_iterator(dir_.path(), ec)) {
      if (e.path().extension() != ".log") continue;
      std::filesystem::copy_file(e.path(), kept / e.path().filename(),
                                 std::filesystem::copy_options::overwrite_existing, ec);
    }
    std::fprintf(stderr, "the daemons' logs are kept in %s\n", kept.c_str());
  }

  // Stops instance `i` (SIGTERM; it should exit 0) and starts it again with the same flags and
  // data dir: a new instance (a new id), which loads what the database holds (the schedules).
  // Its earlier log is kept beside the new one ("b.1.log").
  void restart(std::size_t i) {
    daemons_[i]->signal(SIGTERM);
    const std::optional<int> status = daemons_[i]->await_exit(20s);
    ASSERT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
        << "instance " << i << " did not stop cleanly:\n"
        << tail(i);
    std::string old = dir_ / std::string(1, static_cast<char>('a' + i));
    old += '.';
    old += std::to_string(++restarts_[i]);
    old += ".log";
    std::filesystem::rename(log_of(i), old);
    // The old one goes first: it deletes files named after the log (a sanitizer's suppressions)
    // that the new one is about to read.
    daemons_[i].reset();
    daemons_[i] = std::make_unique<DaemonProcess>(args_[i], log_of(i));
    const std::optional<int> port = daemons_[i]->await_port();
    ASSERT_TRUE(port) << "instance " << i << " did not start again:\n" << daemons_[i]->output();
    ports_[i] = *port;
    ids_[i] = self_id(*port);
    ASSERT_NE(ids_[i], 0) << tail(i);
  }

  // SIGTERM to every daemon still running; each should exit 0.
  void stop() {
    std::vector<std::size_t> stopped;
    for (std::size_t i = 0; i < daemons_.size(); ++i) {
      if (daemons_[i]->exited()) continue;
      daemons_[i]->signal(SIGCONT);  // one left stopped would never see the SIGTERM
      daemons_[i]->signal(SIGTERM);
      stopped.push_back(i);
    }
    for (std::size_t i : stopped) {
      const std::optional<int> status = daemons_[i]->await_exit(20s);
      EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
          << "instance " << i << " did not stop cleanly:\n"
          << tail(i);
    }
  }

  // The instance id a daemon's GET /api/instances marks "self" (0 if none within 10 s).
  static std::int64_t self_id(int port) {
    std::int64_t id = 0;
    eventually(
        [&] {
          const Reply r = call(port, "GET", "/api/instances");
          if (r.status != 200) return false;
          for (const json& i : r.body["instances"])
            if (i["self"].get<bool>()) id = i["id"].get<std::int64_t>();
          return id != 0;
        },
        10s, 50ms);
    return id;
  }

  // The last lines of a daemon's log, for failure messages.
  std::string tail(std::size_t i) const {
    const std::string out = daemons_[i]->output();
    return out.size() > 6000 ? out.substr(out.size() - 6000) : out;
  }
  std::string logs() const {
    std::string s;
    for (std::size_t i = 0; i < daemons_.size(); ++i) {
      s += "--- instance ";
      s += static_cast<char>('a' + i);
      s += " (id ";
      s += std::to_string(ids_[i]);
      s += "):\n";
      s += tail(i);
    }
    return s;
  }

  DaemonProcess& daemon(std::size_t i) { return *daemons_[i]; }
  int port(std::size_t i) const { return ports_[i]; }
  std::int64_t id(std::size_t i) const { return ids_[i]; }
  const std::string& url() const { return url_; }
  const std::string& db_name() const { return db_name_; }
  const TempDir& dir() const { return dir_; }

 private:
  std::string log_of(std::size_t i) const {
    std::string log = dir_ / std::string(1, static_cast<char>('a' + i));
    log += ".log";
    return log;
  }

  TempDir dir_;
  std::string db_name_;
  std::string url_;
  std::vector<std::vector<std::string>> args_;
  std::vector<std::unique_ptr<DaemonProcess>> daemons_;
  std::vector<int> ports_;
  std::vector<std::int64_t> ids_;
  std::map<std::size_t, int> restarts_;
};

// An exec spec whose shell keeps two `sleep MARKER` children: three processes that carry the
// marker, a process tree with grandchildren.
json sleepers(const std::string& marker, int retries) {
  std::string script = "sleep ";
  script += marker;
  script += " & sleep ";
  script += marker;
  script += "; wait";
  json spec = {{"exec", {"sh", "-c", script}}};
  if (retries > 0) spec["retries"] = retries;
  return spec;
}

// Runs `threads` clients that submit `total` specs made by `spec_of(n)`, task n through instance
// n % 3; returns id -> the instance it was submitted through, for every 201.
std::map<std::string, std::size_t> submit_round_robin(const Cluster& cluster, int threads,
                                                      int total,
                                                      const std::function<json(int)>& spec_of,
                                                      std::atomic<int>* answered = nullptr,
                                                      std::atomic<int>* refused = nullptr) {
  std::mutex mu;
  std::map<std::string, std::size_t> acked;
  std::vector<std::thread> clients;
  for (int t = 0; t < threads; ++t) {
    clients.emplace_back([&, t] {
      std::vector<std::unique_ptr<httplib::Client>> to;
      for (std::size_t i = 0; i < 3; ++i) {
        to.push_back(std::make_unique<httplib::Client>("127.0.0.1", cluster.port(i)));
        to.back()->set_read_timeout(30);
      }
      for (int n = t; n < total; n += threads) {
        const std::size_t i = static_cast<std::size_t>(n % 3);
        auto r = to[i]->Post("/api/tasks", spec_of(n).dump(), "application/json");
        if (answered != nullptr) ++*answered;
        if (r && r->status == 201) {
          std::lock_guard lock(mu);
          acked[json::parse(r->body)["id"].get<std::string>()] = i;
        } else if (refused != nullptr) {
          ++*refused;
        }
      }
    });
  }
  for (std::thread& t : clients)
    t.join();
  return acked;
}

// Waits until every row of `ids` is in a final state; the rows then.
std::map<std::int64_t, Row> await_final(Db& db, const std::map<std::string, std::size_t>& ids,
                                        std::chrono::milliseconds limit) {
  std::map<std::int64_t, Row> rows;
  eventually(
      [&] {
        rows = db.tasks();
        for (const auto& [id, instance] : ids) {
          auto it = rows.find(seq_of(id));
          if (it == rows.end() || !final_state(it->second.state)) return false;
        }
        return true;
      },
      limit, 50ms);
  return rows;
}

// As await_final, then the rows nobody was answered 201 for too (a 503 whose write landed
// later): every row final, or `limit` passed (each wait).
std::map<std::int64_t, Row> await_all_final(Db& db, const std::map<std::string, std::size_t>& ids,
                                            std::chrono::milliseconds limit) {
  std::map<std::int64_t, Row> rows = await_final(db, ids, limit);
  eventually(
      [&] {
        rows = db.tasks();
        return std::all_of(rows.begin(), rows.end(),
                           [](const auto& r) { return final_state(r.second.state); });
      },
      limit, 50ms);
  return rows;
}

// 600 short tasks submitted round-robin through the three; "a" runs at most 2 at once, so it
// releases most of those submitted through it and the others claim them. Every task runs once:
// done, one attempt, no owner left, and none was ever seen running on two instances.
TEST(Cluster, SubmitsSpreadOverThreeInstancesRunEachTaskOnce) {
  Cluster cluster({{"--max-running", "2"}, {}, {}});
  Db db(cluster.url());
  constexpr int kTasks = 600;
  static constexpr int kSleepMs = 150;  // "a" alone, 2 at a time: 200 x 150 ms / 2 = 15 s

  // Samples the running rows' owners while the tasks run.
  std::atomic<bool> sampling{true};
  std::map<std::int64_t, std::set<std::int64_t>> ran_on;  // seq -> owners seen running it
  std::size_t most_running_on_a = 0;
  std::thread sampler([&] {
    Db own(cluster.url());
    while (sampling) {
      std::size_t on_a = 0;
      for (const auto& [seq, row] : own.tasks("state = 'running' AND owner IS NOT NULL")) {
        ran_on[seq].insert(*row.owner);
        on_a += *row.owner == cluster.id(0) ? 1 : 0;
      }
      most_running_on_a = std::max(most_running_on_a, on_a);
      std::this_thread::sleep_for(15ms);
    }
  });

  const auto start = Clock::now();
  const std::map<std::string, std::size_t> acked =
      submit_round_robin(cluster, 6, kTasks, [](int n) {
        std::string name = "s";
        name += std::to_string(n);
        return json{{"name", name}, {"sleep_ms", kSleepMs}};
      });
  const double submitted_s = seconds_since(start);
  const std::map<std::int64_t, Row> rows = await_final(db, acked, 12s);
  const double finished_s = seconds_since(start);
  sampling = false;
  sampler.join();
  std::printf("%zu tasks submitted in %.2f s, all final after %.2f s\n", acked.size(), submitted_s,
              finished_s);

  ASSERT_EQ(acked.size(), static_cast<std::size_t>(kTasks));
  EXPECT_EQ(rows.size(), acked.size()) << "rows nobody submitted";
  std::size_t bad = 0;
  for (const auto& [id, instance] : acked) {
    auto it = rows.find(seq_of(id));
    ASSERT_NE(it, rows.end()) << id << " was answered 201 but has no row";
    const Row& r = it->second;
    const bool ok = r.state == "done" && r.attempts == 1 && !r.owner;
    if (!ok && ++bad <= 10)
      ADD_FAILURE() << describe(r) << " (submitted through " << instance << ")";
  }
  if (bad > 0) {
    const Reply instances = call(cluster.port(1), "GET", "/api/instances");
    ADD_FAILURE() << bad << " tasks not done once; the instances then (" << instances.status
                  << "): " << instances.text;
  }

  // The tasks submitted through the busy instance ran elsewhere, and none ran on two.
  std::size_t a_submitted_run_elsewhere = 0;
  std::size_t seen_on_two = 0;
  for (const auto& [id, instance] : acked) {
    auto it = ran_on.find(seq_of(id));
    if (it == ran_on.end()) continue;
    if (it->second.size() > 1) {
      ++seen_on_two;
      ADD_FAILURE() << id << " was seen running on " << it->second.size() << " instances";
    }
    if (instance == 0 && !it->second.contains(cluster.id(0))) ++a_submitted_run_elsewhere;
  }
  std::printf(
      "seen running: %zu tasks; submitted through a and run on b or c: %zu; most running on a at "
      "once: %zu\n",
      ran_on.size(), a_submitted_run_elsewhere, most_running_on_a);
  EXPECT_EQ(seen_on_two, 0u);
  EXPECT_GT(a_submitted_run_elsewhere, 50u) << "the busy instance kept its tasks";
  // Run by "a" alone, its 200 would have taken 15 s.
  EXPECT_LT(finished_s, 12.0);

  // Each instance lists the three, itself once.
  for (std::size_t i = 0; i < 3; ++i) {
    const Reply r = call(cluster.port(i), "GET", "/api/instances");
    ASSERT_EQ(r.status, 200) << r.text;
    EXPECT_EQ(r.body["cluster"], true) << r.text;
    ASSERT_EQ(r.body["instances"].size(), 3u) << r.text;
    std::set<std::int64_t> ids;
    std::set<std::string> names;
    int selves = 0;
    for (const json& inst : r.body["instances"]) {
      ids.insert(inst["id"].get<std::int64_t>());
      names.insert(inst["name"].get<std::string>());
      if (inst["self"].get<bool>()) {
        ++selves;
        EXPECT_EQ(inst["id"], cluster.id(i)) << r.text;
      }
    }
    EXPECT_EQ(selves, 1) << r.text;
    EXPECT_EQ(ids, (std::set<std::int64_t>{cluster.id(0), cluster.id(1), cluster.id(2)})) << r.text;
    EXPECT_EQ(names, (std::set<std::string>{"a", "b", "c"})) << r.text;
  }
}

// kill -9 of "a" while it runs exec trees: within the lease (+2 s) its tasks with a retry run
// again on "b" or "c" (attempt 2), those without are interrupted, and its exec processes die
// with it (the exec supervisor kills them).
TEST(Cluster, Kill9OfAnInstanceMovesItsTasksOn) {
  Cluster cluster({{"--allow-exec"}, {"--allow-exec"}, {"--allow-exec"}});
  Db db(cluster.url());
  const std::string marker = unique_marker("7777.");
  std::vector<std::int64_t> retried;
  std::vector<std::int64_t> once;
  for (int i = 0; i < 2; ++i) {
    retried.push_back(seq_of(submit(cluster.port(0), sleepers(marker, 1))));
    once.push_back(seq_of(submit(cluster.port(0), sleepers(marker, 0))));
  }
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(eventually(
      [&] {
        const auto rows = db.tasks();
        for (const auto& [seq, r] : rows)
          if (r.state != "running" || r.owner != cluster.id(0)) return false;
        return rows.size() == 4 && processes_with(marker).size() >= 12;
      },
      10s))
      << processes_with(marker).size() << " processes\n"
      << cluster.logs();
  const std::set<pid_t> before = processes_with(marker);

  cluster.daemon(0).signal(SIGKILL);
  const auto killed = Clock::now();
  ASSERT_TRUE(cluster.daemon(0).await_exit(5s));
  std::optional<double> processes_gone_s;
  std::optional<double> moved_s;
  std::map<std::int64_t, Row> rows;
  eventually(
      [&] {
        if (!processes_gone_s &&
            std::none_of(before.begin(), before.end(), [](pid_t p) { return process_alive(p); })) {
          processes_gone_s = seconds_since(killed);
        }
        if (!moved_s) {
          rows = db.tasks();
          bool moved = true;
          for (std::int64_t seq : retried) {
            const Row& r = rows[seq];
            moved = moved && r.state == "running" && r.attempts == 2 &&
                    (r.owner == cluster.id(1) || r.owner == cluster.id(2));
          }
          for (std::int64_t seq : once)
            moved = moved && rows[seq].state == "interrupted";
          if (moved) moved_s = seconds_since(killed);
        }
        return processes_gone_s && moved_s;
      },
      12s, 25ms);
  std::printf("after kill -9: a's %zu exec processes gone in %.2f s; tasks moved on in %.2f s\n",
              before.size(), processes_gone_s.value_or(-1), moved_s.value_or(-1));
  std::string seen;
  for (const auto& [seq, r] : rows) {
    seen += describe(r);
    seen += '\n';
  }
  ASSERT_TRUE(moved_s) << "not moved on within 12 s:\n" << seen << cluster.logs();
  EXPECT_LE(*moved_s, kLeaseTtlS + 4.0) << seen;
  ASSERT_TRUE(processes_gone_s) << "exec processes of the killed instance left running";
  EXPECT_LE(*processes_gone_s, 2.0);
  for (std::int64_t seq : once) {
    const Row r = *db.task(seq);
    EXPECT_EQ(r.attempts, 1) << describe(r);
    EXPECT_FALSE(r.owner) << describe(r);
  }
  // The retried ones really run again: new processes, none of the old.
  EXPECT_TRUE(eventually(
      [&] {
        const std::set<pid_t> now = processes_with(marker);
        return now.size() >= 6 &&
               std::none_of(now.begin(), now.end(), [&](pid_t p) { return before.contains(p); });
      },
      5s))
      << processes_with(marker).size();
  // The killed instance is gone from the list.
  std::string listed;
  EXPECT_TRUE(eventually(
      [&] {
        const Reply r = call(cluster.port(1), "GET", "/api/instances");
        listed = r.text;
        if (r.status != 200 || r.body["instances"].size() != 2) return false;
        for (const json& i : r.body["instances"])
          if (i["id"] == cluster.id(0)) return false;
        return true;
      },
      3s))
      << listed;
  // The interrupted ones read the same through the survivors.
  for (std::int64_t seq : once) {
    const Reply r = call(cluster.port(2), "GET", "/api/tasks/" + id_of(seq));
    EXPECT_EQ(r.body["state"], "interrupted") << r.text;
  }
}

// SIGSTOP of "a" past its lease while it runs an exec task (a retry allowed) that appends its
// shell's pid to a file 5 times a second: "b" or "c" takes it over (attempt 2); after SIGCONT
// "a" finds its lease lost and kills its copy (the old writer stops), writes nothing over the new
// owner's row, and comes back as a new instance.
TEST(Cluster, SigstopPastTheLeaseFencesTheInstance) {
  Cluster cluster({{"--allow-exec"}, {"--allow-exec"}, {"--allow-exec"}});
  Db db(cluster.url());
  const std::string file = cluster.dir() / "writes";
  const std::string stop_file = cluster.dir() / "stop";
  std::string script = "while [ ! -e ";
  script += stop_file;
  script += " ]; do echo $$ >> ";
  script += file;
  script += "; sleep 0.2; done";
  const json spec = {{"exec", {"sh", "-c", script}}, {"retries", 1}};
  const std::int64_t seq = seq_of(submit(cluster.port(0), spec));
  ASSERT_FALSE(HasFailure());
  const std::int64_t old_a = cluster.id(0);
  std::vector<std::string> lines;
  ASSERT_TRUE(eventually(
      [&] {
        const std::optional<Row> r = db.task(seq);
        lines = lines_of(read_file_or_empty(file));
        return r && r->state == "running" && r->owner == old_a && lines.size() >= 2;
      },
      10s))
      << cluster.logs();
  const pid_t first_writer = static_cast<pid_t>(std::stol(lines.front()));

  cluster.daemon(0).signal(SIGSTOP);
  const auto stopped = Clock::now();
  std::optional<double> taken_over_s;
  std::optional<Row> row;
  // Stopped for ttl + 3 s: the others take the task over meanwhile.
  while (Clock::now() < stopped + std::chrono::seconds(kLeaseTtlS + 3)) {
    if (!taken_over_s) {
      row = db.task(seq);
      if (row && row->state == "running" && row->attempts == 2 &&
          (row->owner == cluster.id(1) || row->owner == cluster.id(2))) {
        taken_over_s = seconds_since(stopped);
      }
    }
    std::this_thread::sleep_for(25ms);
  }
  std::printf("a stopped: task taken over after %.2f s\n", taken_over_s.value_or(-1));
  ASSERT_TRUE(taken_over_s) << (row ? describe(*row) : "no row") << '\n' << cluster.logs();
  const std::int64_t new_owner = *row->owner;
  // Both copies write meanwhile: a's exec process is not stopped with it.
  pid_t second_writer = 0;
  ASSERT_TRUE(eventually(
      [&] {
        for (const std::string& l : lines_of(read_file_or_empty(file)))
          if (std::stol(l) != first_writer) second_writer = static_cast<pid_t>(std::stol(l));
        return second_writer != 0;
      },
      3s))
      << "the new owner's copy never wrote";

  cluster.daemon(0).signal(SIGCONT);
  const auto resumed = Clock::now();
  // Within ~3 s a's copy is gone; meanwhile the row stays the new owner's, attempt 2.
  std::optional<double> old_copy_gone_s;
  std::size_t fenced_violations = 0;
  std::string violation;
  eventually(
      [&] {
        const std::optional<Row> r = db.task(seq);
        if (!r || r->state != "running" || r->attempts != 2 || r->owner != new_owner) {
          if (++fenced_violations == 1) violation = r ? describe(*r) : "no row";
        }
        if (!old_copy_gone_s && !process_alive(first_writer))
          old_copy_gone_s = seconds_since(resumed);
        return old_copy_gone_s.has_value();
      },
      5s, 25ms);
  std::printf("a resumed: its copy of the task gone after %.2f s\n", old_copy_gone_s.value_or(-1));
  ASSERT_TRUE(old_copy_gone_s) << "a's copy still runs 5 s after SIGCONT\n" << cluster.logs();
  EXPECT_LE(*old_copy_gone_s, 3.0);
  EXPECT_EQ(fenced_violations, 0u) << "the row changed under its new owner: " << violation;

  // One writer left: the new owner's.
  const std::size_t written = lines_of(read_file_or_empty(file)).size();
  std::vector<std::string> later;
  ASSERT_TRUE(eventually(
      [&] {
        const std::vector<std::string> all = lines_of(read_file_or_empty(file));
        later.assign(all.begin() + static_cast<std::ptrdiff_t>(written), all.end());
        return later.size() >= 4;
      },
      3s))
      << "the new owner's copy stopped writing";
  for (const std::string& l : later)
    EXPECT_EQ(std::stol(l), second_writer) << "a writer other than the new owner's";

  // "a" serves again, as a new instance, and "a"'s old instance is gone from the list.
  EXPECT_TRUE(eventually([&] { return call(cluster.port(0), "GET", "/healthz").status == 200; },
                         10s, 100ms));
  json listed;
  EXPECT_TRUE(eventually(
      [&] {
        const Reply r = call(cluster.port(0), "GET", "/api/instances");
        if (r.status != 200) return false;
        listed = r.body;
        bool new_self = false;
        for (const json& i : r.body["instances"]) {
          if (i["id"] == old_a) return false;
          new_self = new_self || (i["self"] == true && i["name"] == "a");
        }
        return new_self && r.body["instances"].size() == 3;
      },
      10s, 100ms))
      << listed.dump() << '\n'
      << cluster.logs();
  const std::int64_t new_a = Cluster::self_id(cluster.port(0));
  EXPECT_NE(new_a, old_a);
  std::printf("a's instance id: %lld, then %lld\n", static_cast<long long>(old_a),
              static_cast<long long>(new_a));

  // The new owner writes the final outcome: done, at attempt 2.
  std::ofstream(stop_file) << "stop\n";
  ASSERT_TRUE(eventually(
      [&] {
        row = db.task(seq);
        return row && final_state(row->state);
      },
      10s))
      << (row ? describe(*row) : "no row");
  EXPECT_EQ(row->state, "done") << describe(*row);
  EXPECT_EQ(row->attempts, 2) << describe(*row);
  EXPECT_FALSE(row->owner) << describe(*row);
  const Reply through_c = call(cluster.port(2), "GET", "/api/tasks/" + id_of(seq));
  EXPECT_EQ(through_c.body["state"], "done") << through_c.text;
  EXPECT_EQ(through_c.body["attempts"], 2) << through_c.text;
}

// Whether task `id`, a sleepers() spec, runs on instance `i` with its three processes alive.
bool sleepers_run_on(Db& db, const Cluster& cluster, const std::string& id, std::size_t i,
                     const std::string& marker) {
  const std::optional<Row> r = db.task(seq_of(id));
  return r && r->state == "running" && r->owner == cluster.id(i) &&
         processes_with(marker).size() >= 3;
}

// A cancel sent to "b" of a task running on "a": 202, "a" kills its processes, and the task
// reads cancelled through "c".
TEST(Cluster, CancelOnBReachesATaskRunningOnA) {
  Cluster cluster({{"--allow-exec"}, {"--allow-exec"}, {"--allow-exec"}});
  Db db(cluster.url());
  const std::string marker = unique_marker("7777.");
  const std::string id = submit(cluster.port(0), sleepers(marker, 0));
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(eventually([&] { return sleepers_run_on(db, cluster, id, 0, marker); }, 10s))
      << cluster.logs();
  // Every instance tells who holds it.
  for (std::size_t i = 0; i < 3; ++i) {
    const Reply got = call(cluster.port(i), "GET", "/api/tasks/" + id);
    ASSERT_EQ(got.status, 200) << got.text;
    EXPECT_EQ(got.body["instance"], cluster.id(0)) << got.text;
  }

  const auto sent = Clock::now();
  const Reply cancel = call(cluster.port(1), "POST", "/api/tasks/" + id + "/cancel");
  EXPECT_EQ(cancel.status, 202) << cancel.text;
  std::optional<double> processes_gone_s;
  std::optional<double> cancelled_s;
  std::string state;
  eventually(
      [&] {
        if (!processes_gone_s && processes_with(marker).empty())
          processes_gone_s = seconds_since(sent);
        if (!cancelled_s) {
          const Reply r = call(cluster.port(2), "GET", "/api/tasks/" + id);
          state = r.status == 200 ? r.body["state"].get<std::string>() : r.text;
          if (state == "cancelled") cancelled_s = seconds_since(sent);
        }
        return processes_gone_s && cancelled_s;
      },
      8s);
  std::printf(
      "cancel through b: a's processes gone after %.3f s, cancelled (read on c) after %.3f s\n",
      processes_gone_s.value_or(-1), cancelled_s.value_or(-1));
  ASSERT_TRUE(processes_gone_s) << cluster.logs();
  ASSERT_TRUE(cancelled_s) << "state " << state << '\n' << cluster.logs();
  // NOTIFY reaches the owner at once; the stored request at its next heartbeat (ttl / 5).
  EXPECT_LE(*cancelled_s, 2.0);
  const Row r = *db.task(seq_of(id));
  EXPECT_EQ(r.state, "cancelled") << describe(r);
  EXPECT_EQ(r.attempts, 1) << describe(r);
  EXPECT_FALSE(r.owner) << describe(r);
}

// A timeout sent to "b" of a task running on "a": 202 once "a" has applied it, and the task ends
// timed_out on "a" when it runs out (read through "c"), its processes gone. A timeout of a
// finished task is 409 on any instance; one of a task no instance holds yet is 409 naming why.
// A step's cancel sent to "b" reaches "a" the same way.
TEST(Cluster, TimeoutAndStepCancelOnBReachATaskRunningOnA) {
  const std::vector<std::string> flags{"--allow-exec", "--max-running", "1"};
  Cluster cluster({flags, flags, flags});
  Db db(cluster.url());
  const std::string marker = unique_marker("7777.");
  const std::string id = submit(cluster.port(0), sleepers(marker, 0));
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(eventually([&] { return sleepers_run_on(db, cluster, id, 0, marker); }, 10s))
      << cluster.logs();
  const auto sent = Clock::now();
  const Reply timeout =
      call(cluster.port(1), "POST", "/api/tasks/" + id + "/timeout", R"({"timeout": 0.5})");
  ASSERT_EQ(timeout.status, 202) << timeout.text;
  EXPECT_EQ(timeout.body["id"], id) << timeout.text;
  EXPECT_LT(seconds_since(sent), 1.0);  // a NOTIFY each way
  std::optional<double> timed_out_s;
  std::string state;
  eventually(
      [&] {
        const Reply r = call(cluster.port(2), "GET", "/api/tasks/" + id);
        state = r.status == 200 ? r.body["state"].get<std::string>() : r.text;
        if (state == "timed_out") timed_out_s = seconds_since(sent);
        return timed_out_s.has_value();
      },
      8s);
  std::printf("timeout 0.5 s through b of a task on a: timed_out (read on c) after %.3f s\n",
              timed_out_s.value_or(-1));
  ASSERT_TRUE(timed_out_s) << "state " << state << '\n' << cluster.logs();
  EXPECT_GE(*timed_out_s, 0.5);
  EXPECT_LE(*timed_out_s, 3.0);
  EXPECT_TRUE(eventually([&] { return processes_with(marker).empty(); }, 5s));
  const Row r = *db.task(seq_of(id));
  EXPECT_EQ(r.state, "timed_out") << describe(r);
  EXPECT_FALSE(r.owner) << describe(r);
  // Finished now: refused on every instance, as on one daemon.
  for (std::size_t i = 0; i < 3; ++i) {
    const Reply late =
        call(cluster.port(i), "POST", "/api/tasks/" + id + "/timeout", R"({"timeout": 1})");
    EXPECT_EQ(late.status, 409) << late.text;
  }
  // Every instance busy with one task: a second one submitted to "a" waits unowned, and a
  // timeout through "b" says no instance holds it yet.
  // (The one on "a" a gather of two sleeps: a step of it is cancelled through "b" below.)
  std::vector<std::string> busy;
  for (std::size_t i = 0; i < 3; ++i) {
    const json spec = i == 0 ? json{{"gather", json::array({{{"sleep", 60}}, {{"sleep", 60}}})},
                                    {"return_exceptions", true}}
                             : json{{"sleep", 60}};
    busy.push_back(submit(cluster.port(i), spec));
    ASSERT_FALSE(busy.back().empty());
  }
  ASSERT_TRUE(eventually(
      [&] {
        for (const std::string& b : busy) {
          const std::optional<Row> row = db.task(seq_of(b));
          if (!row || row->state != "running") return false;
        }
        return true;
      },
      10s))
      << cluster.logs();
  const std::string waiting = submit(cluster.port(0), json{{"sleep", 60}});
  ASSERT_TRUE(eventually(
      [&] {
        const std::optional<Row> row = db.task(seq_of(waiting));
        return row && row->state == "pending" && !row->owner;
      },
      10s))
      << cluster.logs();
  const Reply unowned =
      call(cluster.port(1), "POST", "/api/tasks/" + waiting + "/timeout", R"({"timeout": 1})");
  EXPECT_EQ(unowned.status, 409) << unowned.text;
  EXPECT_NE(unowned.text.find("waits for an instance"), std::string::npos) << unowned.text;
  // A step's cancel through "b" reaches "a" too: that sleep ends cancelled, its task runs on.
  const std::string step = busy[0] + ".1";
  const Reply step_cancel = call(cluster.port(1), "POST", "/api/tasks/" + step + "/cancel");
  EXPECT_EQ(step_cancel.status, 202) << step_cancel.text;
  std::string step_state;
  EXPECT_TRUE(eventually(
      [&] {
        const Reply r = call(cluster.port(2), "GET", "/api/tasks/" + busy[0]);
        if (r.status != 200 || !r.body.contains("steps")) return false;
        for (const json& s : r.body["steps"]["steps"]) {
          if (s["id"] == step) step_state = s["state"].get<std::string>();
        }
        return step_state == "cancelled" && r.body["state"] == "running";
      },
      5s))
      << step << ": " << step_state << '\n'
      << cluster.logs();
}

// Every instance runs 1 task at a time and is busy: a second task submitted to "a" is released
// (no owner) and stays pending; cancelled through "b", it ends cancelled at once and never runs,
// not even once slots are free again.
TEST(Cluster, PendingTaskReleasedToTheClusterIsCancelledFromAnotherInstance) {
  const std::vector<std::string> flags{"--allow-exec", "--max-running", "1"};
  Cluster cluster({flags, flags, flags});
  Db db(cluster.url());
  std::vector<std::string> busy;
  for (std::size_t i = 0; i < 3; ++i) {
    busy.push_back(submit(cluster.port(i), json{{"sleep", 60}}));
    ASSERT_FALSE(busy.back().empty());
    ASSERT_TRUE(eventually(
        [&] {
          const std::optional<Row> r = db.task(seq_of(busy.back()));
          return r && r->state == "running" && r->owner == cluster.id(i);
        },
        5s))
        << cluster.logs();
  }
  const std::string ran = cluster.dir() / "ran";
  std::string script = "touch ";
  script += ran;
  const std::string id = submit(cluster.port(0), json{{"exec", {"sh", "-c", script}}});
  ASSERT_FALSE(id.empty());
  std::optional<Row> row;
  ASSERT_TRUE(eventually(
      [&] {
        row = db.task(seq_of(id));
        return row && row->state == "pending" && !row->owner;
      },
      5s))
      << (row ? describe(*row) : "no row") << '\n'
      << cluster.logs();
  // Nobody has room: it stays unowned (claims come at least once a second), never claimed by a
  // full instance (which would only release it again).
  const auto released = Clock::now();
  std::vector<std::string> claimed_while_full;
  while (Clock::now() < released + 1200ms) {
    row = db.task(seq_of(id));
    ASSERT_TRUE(row && row->state == "pending") << (row ? describe(*row) : "no row");
    if (row->owner) {
      std::string seen = describe(*row);
      seen += " after ";
      seen += std::to_string(seconds_since(released));
      seen += " s";
      claimed_while_full.push_back(seen);
    }
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(claimed_while_full.empty())
      << "claimed by an instance without room " << claimed_while_full.size() << " times, e.g. "
      << claimed_while_full.front();
  // The cancel below is of an unowned row.
  ASSERT_TRUE(eventually(
      [&] {
        row = db.task(seq_of(id));
        return row && row->state == "pending" && !row->owner;
      },
      5s))
      << (row ? describe(*row) : "no row");

  const auto sent = Clock::now();
  const Reply cancel = call(cluster.port(1), "POST", "/api/tasks/" + id + "/cancel");
  EXPECT_EQ(cancel.status, 202) << cancel.text;
  ASSERT_TRUE(eventually(
      [&] {
        row = db.task(seq_of(id));
        return row && final_state(row->state);
      },
      3s))
      << (row ? describe(*row) : "no row");
  std::printf("released pending task cancelled through b after %.3f s\n", seconds_since(sent));
  EXPECT_EQ(row->state, "cancelled") << describe(*row);
  EXPECT_EQ(row->attempts, 0) << describe(*row);
  const Reply through_c = call(cluster.port(2), "GET", "/api/tasks/" + id);
  EXPECT_EQ(through_c.body["state"], "cancelled") << through_c.text;

  // Free every slot: the cancelled task still never runs.
  for (const std::string& b : busy)
    EXPECT_EQ(call(cluster.port(2), "POST", "/api/tasks/" + b + "/cancel").status, 202);
  ASSERT_TRUE(eventually(
      [&] {
        for (const std::string& b : busy)
          if (db.task(seq_of(b)).value_or(Row{}).state != "cancelled") return false;
        return true;
      },
      5s))
      << cluster.logs();
  std::this_thread::sleep_for(1200ms);  // past the next claim of every instance
  row = db.task(seq_of(id));
  EXPECT_EQ(row->state, "cancelled") << describe(*row);
  EXPECT_EQ(row->attempts, 0) << describe(*row);
  EXPECT_FALSE(std::filesystem::exists(ran)) << "the cancelled task ran";
}

// Postgres drops every connection of the database twice while clients submit through the three
// instances (a third of the tasks sleep 400 ms, so some run across each cut): every task answered
// 201 ends done, once.
TEST(Cluster, PostgresConnectionsCutUnderLoad) {
  Cluster cluster({{}, {}, {}});
  Db db(cluster.url());
  constexpr int kTasks = 900;
  std::atomic<int> answered{0};
  std::atomic<int> refused{0};
  std::map<std::string, std::size_t> acked;
  std::thread clients([&] {
    acked = submit_round_robin(
        cluster, 4, kTasks,
        [](int n) {
          std::string name = "p";
          name += std::to_string(n);
          return n % 3 == 0 ? json{{"name", name}, {"sleep_ms", 400}}
                            : json{{"name", name}, {"value", n}};
        },
        &answered, &refused);
  });
  for (int cut : {kTasks / 3, 2 * kTasks / 3}) {
    const auto deadline = Clock::now() + 30s;
    while (answered < cut && Clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    uasyncd::test::pg_test_cut_connections(cluster.db_name());
  }
  clients.join();
  std::printf("%zu of %d submits answered 201, %d refused or unanswered\n", acked.size(), kTasks,
              refused.load());
  EXPECT_GT(acked.size(), static_cast<std::size_t>(kTasks) * 9 / 10);

  const std::map<std::int64_t, Row> rows = await_all_final(db, acked, 20s);
  std::size_t bad = 0;
  for (const auto& [id, instance] : acked) {
    auto it = rows.find(seq_of(id));
    if (it == rows.end()) {
      if (++bad <= 10) ADD_FAILURE() << id << " was answered 201 but has no row";
      continue;
    }
    const Row& r = it->second;
    if (!(r.state == "done" && r.attempts == 1 && !r.owner) && ++bad <= 10) {
      ADD_FAILURE() << describe(r) << " (submitted through " << instance << ")";
    }
  }
  EXPECT_EQ(bad, 0u) << cluster.logs();
  // A submit that was stored without its 201 ran once too.
  std::size_t unacked_bad = 0;
  for (const auto& [seq, r] : rows) {
    if (!(r.state == "done" && r.attempts == 1) && ++unacked_bad <= 10)
      ADD_FAILURE() << describe(r);
  }
  EXPECT_EQ(unacked_bad, 0u);
  // All three are still members.
  const Reply r = call(cluster.port(1), "GET", "/api/instances");
  EXPECT_EQ(r.body["instances"].size(), 3u) << r.text;
}

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// GET /api/events on one daemon, read on a thread of its own: every frame (`event:` name and
// the `data:` line, parsed) with the wall time its data line arrived.
class EventStream {
 public:
  struct Frame {
    std::string event;  // "message" unless named
    json data;
    double arrived = 0;  // seconds since the epoch
  };

  explicit EventStream(int port) : client_("127.0.0.1", port) {
    client_.set_read_timeout(30);
    thread_ = std::thread([this] {
      auto r = client_.Get(
          "/api/events",
          [this](const httplib::Response& res) {
            status_ = res.status;
            return true;
          },
          [this](const char* data, std::size_t n) {
            take(std::string_view(data, n));
            return !stopping_.load();
          });
      (void)r;
    });
  }
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;
  ~EventStream() {
    stopping_ = true;
    client_.stop();  // ends the Get under way (a quiet stream would block in its read)
    thread_.join();
  }

  std::vector<Frame> frames() {
    std::lock_guard lock(mu_);
    return frames_;
  }
  int status() const { return status_; }

 private:
  void take(std::string_view bytes) {
    const double now = wall_seconds();
    std::lock_guard lock(mu_);
    partial_.append(bytes);
    std::size_t pos = 0;
    for (std::size_t end; (end = partial_.find('\n', pos)) != std::string::npos; pos = end + 1) {
      const std::string line = partial_.substr(pos, end - pos);
      if (line.rfind("event: ", 0) == 0) {
        event_ = line.substr(7);
      } else if (line.rfind("data: ", 0) == 0) {
        frames_.push_back({event_, json::parse(line.substr(6), nullptr, false), now});
      } else if (line.empty()) {
        event_ = "message";
      }
    }
    partial_.erase(0, pos);
  }

  httplib::Client client_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> status_{0};
  std::mutex mu_;
  std::string partial_;
  std::string event_ = "message";
  std::vector<Frame> frames_;
  std::thread thread_;
};

// A stream open on "c" carries the transitions of tasks submitted to and run by "a" (forwarded
// through Postgres), each well within 2 s of the event's own time.
TEST(Cluster, EventStreamOnCSeesTransitionsOfA) {
  Cluster cluster({{}, {}, {}});
  EventStream stream(cluster.port(2));
  ASSERT_TRUE(eventually(
      [&] {
        const std::vector<EventStream::Frame> f = stream.frames();
        return !f.empty() && f.front().event == "hello";
      },
      5s))
      << "no hello on c's stream (status " << stream.status() << ")";
  const double hello_at = wall_seconds();

  // Tasks submitted to "a" one after another, some of them running a while.
  std::vector<std::string> ids;
  std::map<std::string, double> submitted_at;
  for (int n = 0; n < 6; ++n) {
    const json spec = n % 2 == 0 ? json{{"value", n}} : json{{"sleep_ms", 400}};
    const Reply r = call(cluster.port(0), "POST", "/api/tasks", spec.dump());
    ASSERT_EQ(r.status, 201) << r.text;
    ids.push_back(r.body["id"].get<std::string>());
    submitted_at[ids.back()] = wall_seconds();
    if (n % 2 == 1) {
      // "a" has room: it runs what it was given (read through "c" while it runs).
      const Reply got = call(cluster.port(2), "GET", "/api/tasks/" + ids.back());
      EXPECT_EQ(got.body.value("instance", json()), cluster.id(0)) << got.text;
    }
    std::this_thread::sleep_for(50ms);
  }

  // (type, id) -> the event's time and when it arrived on c.
  struct Seen {
    double time = 0;
    double arrived = 0;
  };
  std::map<std::pair<std::string, std::string>, Seen> seen;
  const std::set<std::string> wanted_ids(ids.begin(), ids.end());
  const auto collect = [&] {
    seen.clear();
    for (const EventStream::Frame& f : stream.frames()) {
      if (f.event != "message" || !f.data.is_array()) continue;
      for (const json& e : f.data) {
        if (!e.is_object() || !e.contains("id") || !e["id"].is_string()) continue;
        const std::string id = e["id"].get<std::string>();
        const std::string type = e.value("type", "");
        if (!wanted_ids.contains(id) || e.contains("step")) continue;
        seen.try_emplace({type, id}, Seen{e.value("time", 0.0), f.arrived});
      }
    }
    for (const std::string& id : ids)
      for (const char* type : {"submitted", "started", "finished"})
        if (!seen.contains({type, id})) return false;
    return true;
  };
  // The last task is submitted at most ~0.5 s ago and runs 400 ms: all arrive within 2 s of it.
  const bool all = eventually(collect, 4s, 20ms);
  std::string missing;
  for (const std::string& id : ids) {
    for (const char* type : {"submitted", "started", "finished"}) {
      if (seen.contains({type, id})) continue;
      missing += ' ';
      missing += type;
      missing += ':';
      missing += id;
    }
  }
  std::string frames_text;
  for (const EventStream::Frame& f : stream.frames()) {
    frames_text += f.event;
    frames_text += ' ';
    frames_text += f.data.dump();
    frames_text += '\n';
  }
  EXPECT_TRUE(all) << "c's stream lacks" << missing << " (first submit "
                   << submitted_at[ids.front()] - hello_at << " s after hello)\nframes:\n"
                   << frames_text << cluster.logs();

  std::vector<double> latencies;
  for (const auto& [key, s] : seen) {
    ASSERT_GT(s.time, 1.0e9) << key.first << ' ' << key.second << ": no \"time\"";
    const double latency = s.arrived - s.time;
    latencies.push_back(latency);
    EXPECT_LE(latency, 2.0) << key.first << ' ' << key.second;
    EXPECT_GE(latency, -0.05) << key.first << ' ' << key.second << ": arrived before its time";
  }
  std::sort(latencies.begin(), latencies.end());
  if (!latencies.empty()) {
    std::printf("a -> c event latency over %zu events: min %.3f s, median %.3f s, max %.3f s\n",
                latencies.size(), latencies.front(), latencies[latencies.size() / 2],
                latencies.back());
  }
}

// A wait through "b" for a task "a" runs is answered when it ends (not at once, with the task
// still running), and a wait whose timeout passes first is answered 202 with the task running.
TEST(Cluster, WaitOnBForATaskRunningOnA) {
  Cluster cluster({{}, {}, {}});
  Db db(cluster.url());

  const auto submitted = Clock::now();
  const std::string id = submit(cluster.port(0), json{{"sleep", 1.5}});
  ASSERT_FALSE(id.empty());
  const std::optional<Row> row = db.task(seq_of(id));
  ASSERT_TRUE(row);
  EXPECT_EQ(row->owner, cluster.id(0)) << describe(*row);
  const Reply waited = call(cluster.port(1), "GET", "/api/tasks/" + id + "/wait?timeout=10");
  const double waited_s = seconds_since(submitted);
  std::printf("wait through b for a 1.5 s task on a: answered %d after %.3f s\n", waited.status,
              waited_s);
  EXPECT_EQ(waited.status, 200) << waited.text;
  EXPECT_EQ(waited.body.value("state", ""), "done") << waited.text;
  EXPECT_GE(waited_s, 1.2) << "answered before the task ended: " << waited.text;
  // The finished event, or the database read every 0.5 s.
  EXPECT_LE(waited_s, 3.0) << waited.text;

  const std::string longer = submit(cluster.port(0), json{{"sleep", 30}});
  ASSERT_FALSE(longer.empty());
  ASSERT_TRUE(eventually(
      [&] {
        const std::optional<Row> r = db.task(seq_of(longer));
        return r && r->state == "running" && r->owner == cluster.id(0);
      },
      5s))
      << cluster.logs();
  const auto asked = Clock::now();
  const Reply timed_out =
      call(cluster.port(1), "GET", "/api/tasks/" + longer + "/wait?timeout=0.3");
  const double timed_out_s = seconds_since(asked);
  std::printf("wait?timeout=0.3 through b for a task running on a: answered %d after %.3f s\n",
              timed_out.status, timed_out_s);
  EXPECT_EQ(timed_out.status, 202) << timed_out.text;
  EXPECT_EQ(timed_out.body.value("state", ""), "running") << timed_out.text;
  EXPECT_GE(timed_out_s, 0.28) << timed_out.text;
  EXPECT_LE(timed_out_s, 1.3) << timed_out.text;
  EXPECT_EQ(call(cluster.port(1), "POST", "/api/tasks/" + longer + "/cancel").status, 202);
}

// One run of a schedule as the database has it.
struct ScheduleRun {
  std::int64_t seq = 0;
  std::int64_t created_ms = 0;
  std::string state;
  std::int64_t attempts = 0;
};

// The stored fired_ms of schedule `name` and its runs (by created_ms), read in one statement (one
// snapshot); nullopt if the read failed.
std::optional<std::pair<std::int64_t, std::vector<ScheduleRun>>> schedule_runs(
    Db& db, const std::string& name) {
  const std::optional<std::vector<Db::Cells>> rows = db.query(
      "SELECT (SELECT fired_ms FROM uasyncd_settings WHERE kind = 'schedule' AND "
      "convert_from(name, 'UTF8') = '" +
      name +
      "'), t.seq, t.created_ms, t.state, t.attempts FROM (SELECT 1) one LEFT JOIN uasyncd_tasks t "
      "ON convert_from(t.spec, 'UTF8')::jsonb->>'schedule' = '" +
      name + "' ORDER BY t.created_ms");
  if (!rows) return std::nullopt;
  std::pair<std::int64_t, std::vector<ScheduleRun>> out{0, {}};
  for (const Db::Cells& c : *rows) {
    if (c[0]) out.first = std::stoll(*c[0]);
    if (!c[1]) continue;
    out.second.push_back({std::stoll(*c[1]), std::stoll(*c[2]), *c[3], std::stoll(*c[4])});
  }
  return out;
}

// A schedule every 0.5 s made through "a", known to "b" and "c" too (they load it at their
// restart): each of the three fires every occurrence, and the guarded write of the schedule's row
// keeps one run of each. Then deleted, it makes no more runs anywhere.
TEST(Cluster, EachScheduleOccurrenceFiresOnceInTheCluster) {
  Cluster cluster({{}, {}, {}});
  Db db(cluster.url());
  constexpr std::int64_t kPeriodMs = 500;
  const Reply made = call(cluster.port(0), "POST", "/api/schedules",
                          R"({"name": "tick", "every": 0.5, "spec": {"value": 1}})");
  ASSERT_EQ(made.status, 201) << made.text;
  const auto restarting = Clock::now();
  cluster.restart(1);
  ASSERT_FALSE(HasFatalFailure());
  cluster.restart(2);
  ASSERT_FALSE(HasFatalFailure());
  std::printf("b and c restarted in %.2f s\n", seconds_since(restarting));
  for (std::size_t i = 1; i < 3; ++i) {
    const Reply listed = call(cluster.port(i), "GET", "/api/schedules");
    ASSERT_EQ(listed.status, 200) << listed.text;
    ASSERT_EQ(listed.body["schedules"].size(), 1u) << listed.text;
    EXPECT_EQ(listed.body["schedules"][0]["name"], "tick") << listed.text;
  }
  // From here on all three know it.
  const std::int64_t all_know_ms = static_cast<std::int64_t>(wall_seconds() * 1000);
  std::optional<std::pair<std::int64_t, std::vector<ScheduleRun>>> snap;
  ASSERT_TRUE(eventually(
      [&] {
        snap = schedule_runs(db, "tick");
        return snap && snap->first >= all_know_ms + 3000;
      },
      6s, 50ms))
      << "the schedule did not fire on for 3 s: fired_ms " << (snap ? snap->first : -1) << " vs "
      << all_know_ms << '\n'
      << db.error() << cluster.logs();
  const std::int64_t fired_ms = snap->first;
  const std::int64_t phase = fired_ms % kPeriodMs;  // occurrences are at phase + k * period
  std::map<std::int64_t, std::vector<ScheduleRun>> by_occurrence;
  std::int64_t latest_lateness = 0;
  for (const ScheduleRun& r : snap->second) {
    const std::int64_t k = (r.created_ms - phase) / kPeriodMs;
    by_occurrence[k].push_back(r);
    latest_lateness = std::max(latest_lateness, r.created_ms - (phase + k * kPeriodMs));
  }
  // No two runs of one occurrence, nor within 400 ms of each other.
  for (std::size_t i = 1; i < snap->second.size(); ++i) {
    const ScheduleRun& before = snap->second[i - 1];
    const ScheduleRun& after = snap->second[i];
    EXPECT_GE(after.created_ms - before.created_ms, 400)
        << id_of(before.seq) << " at " << before.created_ms << " and " << id_of(after.seq) << " at "
        << after.created_ms;
  }
  // Every occurrence since all three know it has exactly one run.
  const std::int64_t first_k = (all_know_ms - phase) / kPeriodMs + 1;
  const std::int64_t last_k = (fired_ms - phase) / kPeriodMs;
  std::size_t in_window = 0;
  for (std::int64_t k = first_k; k <= last_k; ++k) {
    const auto it = by_occurrence.find(k);
    const std::size_t runs = it == by_occurrence.end() ? 0 : it->second.size();
    in_window += runs;
    EXPECT_EQ(runs, 1u) << "occurrence at " << phase + k * kPeriodMs << " ms";
  }
  for (const auto& [k, runs] : by_occurrence)
    EXPECT_LE(k, last_k) << "a run of an occurrence after the stored fired_ms " << fired_ms;
  std::printf(
      "schedule tick: %zu runs in all (%zu occurrences held them), %zu in the %lld occurrences "
      "since all three knew it; latest run made %lld ms after its occurrence\n",
      snap->second.size(), by_occurrence.size(), in_window,
      static_cast<long long>(last_k - first_k + 1), static_cast<long long>(latest_lateness));
  EXPECT_GE(last_k - first_k + 1, 5);
  // Which instance made each kept run shows in its id (ids come from each instance's block).
  std::string run_ids;
  for (const ScheduleRun& r : snap->second) {
    run_ids += ' ';
    run_ids += id_of(r.seq);
  }
  std::printf("runs:%s\n", run_ids.c_str());
  for (std::size_t i = 0; i < 3; ++i) {
    const Reply got = call(cluster.port(i), "GET", "/api/schedules/tick");
    std::printf("tick as %c sees it: runs %s, skipped %s, last_run %s\n",
                static_cast<char>('a' + i), got.body.value("runs", json()).dump().c_str(),
                got.body.value("skipped", json()).dump().c_str(),
                got.body.value("last_run", json()).dump().c_str());
  }

  // Deleted through "a": the others' fires (they still know it) are refused, no more runs.
  const Reply deleted = [&] {
    httplib::Client c("127.0.0.1", cluster.port(0));
    auto r = c.Delete("/api/schedules/tick");
    Reply out;
    if (r) {
      out.status = r->status;
      out.text = r->body;
    }
    return out;
  }();
  EXPECT_TRUE(deleted.status == 200 || deleted.status == 204) << deleted.text;
  const std::optional<std::pair<std::int64_t, std::vector<ScheduleRun>>> at_delete =
      schedule_runs(db, "tick");
  ASSERT_TRUE(at_delete) << db.error();
  std::this_thread::sleep_for(std::chrono::milliseconds(3 * kPeriodMs));  // three periods
  std::optional<std::pair<std::int64_t, std::vector<ScheduleRun>>> last;
  // Every run ends done, once.
  ASSERT_TRUE(eventually(
      [&] {
        last = schedule_runs(db, "tick");
        if (!last) return false;
        for (const ScheduleRun& r : last->second)
          if (!final_state(r.state)) return false;
        return true;
      },
      5s))
      << cluster.logs();
  EXPECT_EQ(last->second.size(), at_delete->second.size())
      << "runs made after the schedule was deleted";
  for (const ScheduleRun& r : last->second) {
    EXPECT_EQ(r.state, "done") << id_of(r.seq);
    EXPECT_EQ(r.attempts, 1) << id_of(r.seq);
  }
}

// A PostgreSQL server of the test's own (tests/support/pg-test-server.sh), stopped and deleted
// when the object goes.
class OwnPostgres {
 public:
  OwnPostgres() {
    dir_ = "/tmp/uasyncd-pgr-";  // short: the socket's path must fit sockaddr_un
    dir_ += std::to_string(::getpid());
    dir_ += '-';
    static std::atomic<int> made{0};
    dir_ += std::to_string(made++);
    started_ = run(std::string(kScript) + " start " + dir_) == 0;
  }
  ~OwnPostgres() { run(std::string(kScript) + " stop " + dir_); }
  OwnPostgres(const OwnPostgres&) = delete;
  OwnPostgres& operator=(const OwnPostgres&) = delete;

  bool started() const { return started_; }
  const std::string& socket_dir() const { return dir_; }

  // A fast stop, `down` seconds without a server, and a start (the script's restart); true once
  // the server is up again.
  bool restart(double down = 0) const {
    std::string cmd = kScript;
    cmd += " restart ";
    cmd += dir_;
    cmd += ' ';
    cmd += std::to_string(down);
    return run(cmd) == 0;
  }

 private:
  static constexpr const char* kScript = UASYNCD_PG_TEST_SERVER;

  static int run(const std::string& cmd) {
    const int status = std::system(("/bin/sh -c '" + escaped(cmd) + "'").c_str());
    return status == -1 || !WIFEXITED(status) ? -1 : WEXITSTATUS(status);
  }
  // `s` inside single quotes.
  static std::string escaped(const std::string& s) {
    std::string out;
    for (char c : s) {
      if (c == '\'') {
        out += "'\\''";
      } else {
        out += c;
      }
    }
    return out;
  }

  std::string dir_;
  bool started_ = false;
};

// The cluster's PostgreSQL server restarts (a fast stop, 4.5 s down, a start) while three clients
// submit through the three instances: submits during the outage are refused 503 (never 500), and
// every task answered 201 ends done, once. The lease (10 s) outlasts the outage, so no instance
// fences itself, and none is taken for dead by one that reconnected first (with the fixture's
// 2 s, a task the outage caught running may end interrupted, as docs/cluster.md says).
TEST(Cluster, PostgresRestartUnderLoad) {
  OwnPostgres server;
  ASSERT_TRUE(server.started()) << "cannot start a PostgreSQL server with " UASYNCD_PG_TEST_SERVER;
  std::optional<Cluster> cluster;
  cluster.emplace(std::vector<std::vector<std::string>>{{}, {}, {}},
                  ClusterSetup{server.socket_dir(), 10});
  Db db(cluster->url());

  struct Answer {
    std::string id;  // "" unless 201
    int status = 0;  // 0: no answer
    std::size_t instance = 0;
    double at = 0;  // seconds since the load began
    std::string body;
  };
  std::mutex mu;
  std::vector<Answer> answers;
  std::atomic<bool> submitting{true};
  const auto began = Clock::now();
  std::vector<std::thread> clients;
  for (int t = 0; t < 3; ++t) {
    clients.emplace_back([&, t] {
      std::vector<std::unique_ptr<httplib::Client>> to;
      for (std::size_t i = 0; i < 3; ++i) {
        to.push_back(std::make_unique<httplib::Client>("127.0.0.1", cluster->port(i)));
        to.back()->set_read_timeout(30);
      }
      for (int n = 0; submitting; ++n) {
        const std::size_t i = static_cast<std::size_t>((n + t) % 3);
        std::string name = "r";
        name += std::to_string(t);
        name += '-';
        name += std::to_string(n);
        auto r = to[i]->Post("/api/tasks", json{{"name", name}, {"value", n}}.dump(),
                             "application/json");
        Answer a;
        a.instance = i;
        a.at = seconds_since(began);
        if (r) {
          a.status = r->status;
          if (r->status == 201) {
            a.id = json::parse(r->body)["id"].get<std::string>();
          } else {
            a.body = r->body;
          }
        }
        {
          std::lock_guard lock(mu);
          answers.push_back(std::move(a));
        }
        std::this_thread::sleep_for(5ms);
      }
    });
  }
  const auto count_201 = [&] {
    std::lock_guard lock(mu);
    return std::count_if(answers.begin(), answers.end(),
                         [](const Answer& a) { return a.status == 201; });
  };
  EXPECT_TRUE(eventually([&] { return count_201() >= 100; }, 5s));

  const double restart_began = seconds_since(began);
  // Down 4.5 s: past two heartbeat intervals (4 s at the ttl of 10 s), within the lease.
  const bool restarted = server.restart(4.5);
  const double restart_ended = seconds_since(began);
  EXPECT_TRUE(restarted) << "pg_ctl restart failed";
  // Every instance takes submits again.
  std::set<std::size_t> back;
  const bool recovered = eventually(
      [&] {
        std::lock_guard lock(mu);
        for (const Answer& a : answers)
          if (a.status == 201 && a.at > restart_ended) back.insert(a.instance);
        return back.size() == 3;
      },
      10s);
  std::this_thread::sleep_for(500ms);  // a while longer under load
  submitting = false;
  for (std::thread& t : clients)
    t.join();
  EXPECT_TRUE(recovered) << back.size() << " instances took submits after the restart\n"
                         << cluster->logs();

  std::map<std::string, std::size_t> acked;
  std::map<int, int> by_status;
  std::size_t refused_in_outage = 0;
  double last_refused = -1;
  std::size_t unexpected = 0;
  for (const Answer& a : answers) {
    ++by_status[a.status];
    if (a.status == 201) {
      acked[a.id] = a.instance;
    } else if (a.status == 503) {
      ++refused_in_outage;
      last_refused = std::max(last_refused, a.at);
      const json error = json::parse(a.body, nullptr, false);
      EXPECT_TRUE(error.is_object() && error["error"]["code"] == "unavailable") << a.body;
      // Answered while the server was down or reconnecting, not before nor long after.
      EXPECT_GE(a.at, restart_began) << a.body;
      EXPECT_LE(a.at, restart_ended + 3.0) << a.body;
    } else if (++unexpected <= 10) {
      ADD_FAILURE() << "a submit through instance " << a.instance << " at " << a.at
                    << " s answered " << a.status << ": " << a.body;
    }
  }
  std::string statuses;
  for (const auto& [status, n] : by_status) {
    statuses += ' ';
    statuses += std::to_string(n);
    statuses += " x ";
    statuses += std::to_string(status);
  }
  std::printf(
      "restart from %.2f s to %.2f s (pg_ctl); submits:%s; last 503 at %.2f s; all three "
      "took submits again by %.2f s\n",
      restart_began, restart_ended, statuses.c_str(), last_refused, seconds_since(began));
  EXPECT_EQ(unexpected, 0u) << cluster->logs();

  const std::map<std::int64_t, Row> rows = await_all_final(db, acked, 20s);
  std::size_t bad = 0;
  for (const auto& [id, instance] : acked) {
    auto it = rows.find(seq_of(id));
    if (it == rows.end()) {
      if (++bad <= 10) ADD_FAILURE() << id << " was answered 201 but has no row";
      continue;
    }
    const Row& r = it->second;
    if (!(r.state == "done" && r.attempts == 1 && !r.owner) && ++bad <= 10)
      ADD_FAILURE() << describe(r) << " (submitted through " << instance << ")";
  }
  EXPECT_EQ(bad, 0u) << cluster->logs();
  // A submit stored without its 201 (a 503 whose write landed later) ran once too.
  std::size_t unacked_bad = 0;
  for (const auto& [seq, r] : rows) {
    if (!(r.state == "done" && r.attempts == 1 && !r.owner) && ++unacked_bad <= 10)
      ADD_FAILURE() << describe(r);
  }
  EXPECT_EQ(unacked_bad, 0u);
  std::printf("%zu tasks answered 201, %zu rows in all, %zu submits refused 503\n", acked.size(),
              rows.size(), refused_in_outage);
  // A restart shorter than the lease costs no instance its lease: each gets the time to lock
  // again before the others judge it by its lock (a reaper that came back first removed the
  // other two, which then stopped whatever they ran).
  const std::string logs = cluster->logs();
  EXPECT_EQ(logs.find("lost its lease"), std::string::npos) << logs;
  // The daemons stop before their server does.
  cluster.reset();
}

}  // namespace
