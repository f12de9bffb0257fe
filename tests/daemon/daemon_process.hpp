// The uasyncd binary (UASYNCD_BIN) as a child process, for tests that kill, signal and restart
// it. Its stdout and stderr go to a file, so a chatty daemon never blocks on a full pipe.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

class DaemonProcess {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts `UASYNCD_BIN args...` with its output in `log_path`. `file_size_limit`: the child's
  // RLIMIT_FSIZE in bytes, with SIGXFSZ ignored, so a write past it fails with EFBIG as on a
  // full disk (the log file is limited too).
  DaemonProcess(std::vector<std::string> args, std::string log_path,
                rlim_t file_size_limit = RLIM_INFINITY)
      : log_path_(std::move(log_path)) {
    spawn(std::move(args), file_size_limit);
  }
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;
  ~DaemonProcess() {
    if (pid_ > 0 && !status_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    print_sanitizer_report();
    if (!suppressions_.empty()) std::remove(suppressions_.c_str());
  }

  pid_t pid() const { return pid_; }

  // A sanitizer's report stops a sanitized daemon (halt_on_error), which its tests see only as
  // a task that never ends or a connection that closes; the report itself is in the log. So it
  // is copied to the test's output (ctest shows it when the test fails).
  void print_sanitizer_report() const {
    const std::string out = output();
    std::size_t at = std::string::npos;
    for (const char* marker : {"WARNING: ThreadSanitizer", "ERROR: AddressSanitizer",
                               "ERROR: LeakSanitizer", "SUMMARY: UndefinedBehaviorSanitizer"}) {
      at = std::min(at, out.find(marker));
    }
    if (at == std::string::npos) return;
    const std::size_t from = at > 4096 ? at - 4096 : 0;  // UBSan's report starts before its name
    std::fprintf(stderr, "the daemon's log (%s) has a sanitizer report:\n%s\n", log_path_.c_str(),
                 out.substr(from, 64 * 1024).c_str());
  }

  std::string output() const {
    std::ifstream in(log_path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // The port from the "listening on host:port" line, or nullopt if the process exited or did not
  // say it within `timeout`.
  std::optional<int> await_port(std::chrono::seconds timeout = std::chrono::seconds(30)) {
    static const std::regex listening(R"(^listening on [^\n]*:(\d+)$)", std::regex::multiline);
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      std::smatch m;
      const std::string out = output();
      if (std::regex_search(out, m, listening)) return std::stoi(m[1].str());
      if (exited()) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::nullopt;
  }

  bool exited() {
    if (status_) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) status_ = status;
    return status_.has_value();
  }

  // The wait status, or nullopt if still running after `timeout`.
  std::optional<int> await_exit(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!exited()) {
      if (Clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return status_;
  }

  void signal(int sig) { kill(pid_, sig); }

  // A "VmRSS:  1234 kB"-style field of the child's /proc/PID/status, in bytes (0 if absent).
  std::int64_t status_bytes(const std::string& field) const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.compare(0, field.size() + 1, field + ":") == 0) {
        return std::stoll(line.substr(field.size() + 1)) * 1024;
      }
    }
    return 0;
  }
  std::int64_t rss_bytes() const { return status_bytes("VmRSS"); }
  // A field of the child's /proc/PID/io ("write_bytes": what it made the kernel write to disk).
  std::int64_t io_bytes(const std::string& field) const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/io");
    std::string line;
    while (std::getline(in, line)) {
      if (line.compare(0, field.size() + 1, field + ":") == 0) {
        return std::stoll(line.substr(field.size() + 1));
      }
    }
    return -1;
  }

  // The binary the tests run: UASYNCD_BIN, or $UASYNCD_TEST_BIN when set (to run a test against
  // another build, e.g. the daemon before a fix).
  static const char* binary() {
    const char* other = std::getenv("UASYNCD_TEST_BIN");
    return other != nullptr && *other != '\0' ? other : UASYNCD_BIN;
  }

 private:
  // Fork and exec rather than posix_spawn, which cannot set a resource limit in the child;
  // between the two the child makes only async-signal-safe calls.
  void spawn(std::vector<std::string> args, rlim_t file_size_limit) {
    const char* bin = binary();
    args.insert(args.begin(), bin);
    std::vector<char*> argv;
    for (std::string& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env = environment();
    std::vector<char*> envp;
    for (std::string& e : env)
      envp.push_back(e.data());
    envp.push_back(nullptr);
    const char* log = log_path_.c_str();
    pid_ = fork();
    if (pid_ != 0) return;
    const int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) _exit(127);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
    if (file_size_limit != RLIM_INFINITY) {
      struct sigaction ignore {};
      ignore.sa_handler = SIG_IGN;
      sigaction(SIGXFSZ, &ignore, nullptr);
      struct rlimit rl {};
      rl.rlim_cur = file_size_limit;
      rl.rlim_max = file_size_limit;
      if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(127);
    }
    execve(bin, argv.data(), envp.data());
    _exit(127);
  }

  // A ThreadSanitizer build of the daemon gets the suppression of races inside the
  // uninstrumented libcpp-httplib that the in-process tests declare.
  std::vector<std::string> environment() {
    std::vector<std::string> env;
    std::string tsan;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry = *e;
      if (entry.rfind("TSAN_OPTIONS=", 0) == 0) {
        tsan = entry.substr(13);
      } else {
        env.push_back(entry);
      }
    }
    suppressions_ = log_path_ + ".tsan-supp";
    std::ofstream(suppressions_) << "race:libcpp-httplib.so\n";
    if (!tsan.empty()) tsan += ':';
    tsan += "suppressions=";
    tsan += suppressions_;
    env.push_back("TSAN_OPTIONS=" + tsan);
    return env;
  }

  pid_t pid_ = -1;
  std::string log_path_;
  std::string suppressions_;
  std::optional<int> status_;
};
