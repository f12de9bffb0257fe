// Helpers for the exec supervisor's tests: a fresh real-clock loop with a client per test, and
// looking at real processes through /proc.
#pragma once

#include <gtest/gtest.h>
#include <uasyncio/uasyncio.hpp>

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "uasyncd/exec/supervisor_client.hpp"

namespace exec_test {

namespace ua = uasyncio;
namespace ux = uasyncd::exec;
using namespace std::chrono_literals;

// /proc/PID/stat, or "" if there is no such process. A process that exits while it is read
// fails the read (ESRCH), which libstdc++ reports by throwing from the stream buffer.
inline std::string proc_stat(pid_t pid) {
  try {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  } catch (const std::exception&) {
    return "";
  }
}

// The state letter of /proc/PID/stat, or 0 if there is no such process.
inline char state_of(pid_t pid) {
  const std::string stat = proc_stat(pid);
  const std::size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return 0;
  return stat[paren + 2];
}

// Alive and not a zombie (a zombie has finished; PID 1 of a container may never reap it).
inline bool running(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  const char s = state_of(pid);
  return s != 0 && s != 'Z' && s != 'X';
}

inline bool gone_within(pid_t pid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (running(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

inline pid_t parent_of(pid_t pid) {
  const std::string stat = proc_stat(pid);
  const std::size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream rest(stat.substr(paren + 1));
  char state = 0;
  pid_t ppid = -1;
  rest >> state >> ppid;
  return ppid;
}

// Every process whose parent is `pid` (a scan of /proc: zombies included).
inline std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  while (dirent* e = d != nullptr ? ::readdir(d) : nullptr) {
    char* end = nullptr;
    const long p = std::strtol(e->d_name, &end, 10);
    if (end != e->d_name && *end == '\0' && parent_of(static_cast<pid_t>(p)) == pid) {
      out.push_back(static_cast<pid_t>(p));
    }
  }
  if (d != nullptr) ::closedir(d);
  return out;
}

// The numbers in `text`, in order.
inline std::vector<pid_t> numbers_in(const std::string& text) {
  std::vector<pid_t> out;
  std::istringstream in(text);
  pid_t p;
  while (in >> p)
    out.push_back(p);
  return out;
}

// A request for argv (by value: g++ 12 cannot hold a braced list of string literals in a
// coroutine frame).
template <class... Args>
ux::ExecRequest command(Args... args) {
  return ux::ExecRequest{{std::string(args)...}, "", {}};
}

inline ux::ExecRequest shell(const std::string& script) {
  return ux::ExecRequest{{"sh", "-c", script}, "", {}};
}

struct Finished {
  std::string out;
  std::string err;
  int returncode = 0;
  int pid = 0;
};

inline ua::Coro<std::string> read_all(ua::Stream s) {
  co_return co_await s.read(-1);
}

// Spawns, reads both streams to EOF, waits.
inline ua::Coro<Finished> run_to_end(ux::SupervisorClient* client, ux::ExecRequest request) {
  ux::ExecProcess p = co_await client->spawn(std::move(request));
  Finished f;
  f.pid = p.pid();
  auto [out, err] = co_await ua::gather(read_all(p.stdout_stream()), read_all(p.stderr_stream()));
  f.out = std::move(out);
  f.err = std::move(err);
  f.returncode = co_await p.wait();
  co_return f;
}

}  // namespace exec_test

// A fresh real-clock loop and a supervisor client (the test host program) for each test.
class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uasyncio::new_event_loop().set_virtual_clock(false);
    client_ = std::make_unique<uasyncd::exec::SupervisorClient>(options());
  }
  void TearDown() override {
    client_.reset();
    uasyncio::new_event_loop();
  }
  virtual uasyncd::exec::SupervisorOptions options() {
    uasyncd::exec::SupervisorOptions o;
    o.program = SUPERVISOR_HOST;
    return o;
  }
  std::unique_ptr<uasyncd::exec::SupervisorClient> client_;
};
