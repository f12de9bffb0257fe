// The uasyncd binary (UASYNCD_BIN) run as a client command, the way a shell runs it: its stdout
// and stderr read through pipes (or both through a pseudo-terminal, to see what a person at a
// terminal sees), its environment under the test's control, its exit status taken.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

extern char** environ;

class ClientProcess {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    // NAME=VALUE set in the environment (over an inherited one), which has no UASYNCD_* or
    // NO_COLOR variable else.
    std::vector<std::string> env;
    std::string stdin_text;  // written to the command's stdin, which is then closed
    bool terminal = false;   // stdout and stderr on one pseudo-terminal (read as out())
  };

  explicit ClientProcess(std::vector<std::string> args)
      : ClientProcess(std::move(args), Options{}) {}
  ClientProcess(std::vector<std::string> args, Options options) { spawn(std::move(args), options); }
  ClientProcess(const ClientProcess&) = delete;
  ClientProcess& operator=(const ClientProcess&) = delete;
  ~ClientProcess() {
    if (!status_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close_fd(out_fd_);
    close_fd(err_fd_);
    if (!suppressions_.empty()) std::remove(suppressions_.c_str());
  }

  // Reads output until `ready()` holds or `timeout` passes; returns what ready() says last.
  bool read_until(const std::function<bool()>& ready, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!ready()) {
      if (Clock::now() >= deadline || (out_fd_ < 0 && err_fd_ < 0)) return ready();
      pump(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
    }
    return true;
  }
  bool read_until_out(const std::string& needle, std::chrono::milliseconds timeout) {
    return read_until([&] { return out_.find(needle) != std::string::npos; }, timeout);
  }

  void signal(int sig) { kill(pid_, sig); }

  // Reads everything until the process exits (or `timeout` passes: it is killed and nullopt
  // returned). The exit code, or 128 + the signal that ended it.
  std::optional<int> finish(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    const auto deadline = Clock::now() + timeout;
    while (out_fd_ >= 0 || err_fd_ >= 0) {
      if (Clock::now() >= deadline) break;
      pump(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
    }
    while (!status_) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        status_ = status;
        break;
      }
      if (Clock::now() >= deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        status_ = status;
        return std::nullopt;
      }
      usleep(2000);
    }
    return WIFEXITED(*status_) ? WEXITSTATUS(*status_) : 128 + WTERMSIG(*status_);
  }

  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }
  pid_t pid() const { return pid_; }

 private:
  static void close_fd(int& fd) {
    if (fd >= 0) close(fd);
    fd = -1;
  }

  void pump(std::chrono::milliseconds timeout) {
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
    const int ms = static_cast<int>(std::min<long long>(timeout.count(), 50));
    if (poll(fds, 2, ms) <= 0) return;
    drain(fds[0], out_fd_, out_);
    drain(fds[1], err_fd_, err_);
  }

  static void drain(const pollfd& p, int& fd, std::string& text) {
    if (fd < 0 || (p.revents & (POLLIN | POLLHUP | POLLERR)) == 0) return;
    char buffer[65536];
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n > 0) {
      text.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      close_fd(fd);  // EOF (a pseudo-terminal's master reads EIO once the child is gone)
    }
  }

  std::vector<std::string> environment(const Options& options) {
    std::vector<std::string> env;
    std::string tsan;
    const auto overridden = [&](const std::string& entry) {
      for (const std::string& e : options.env) {
        if (entry.compare(0, e.find('=') + 1, e, 0, e.find('=') + 1) == 0) return true;
      }
      return false;
    };
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry = *e;
      if (overridden(entry)) continue;
      if (entry.rfind("TSAN_OPTIONS=", 0) == 0) {
        tsan = entry.substr(13);
      } else if (entry.rfind("UASYNCD_", 0) != 0 && entry.rfind("NO_COLOR=", 0) != 0 &&
                 entry.rfind("TERM=", 0) != 0) {
        env.push_back(entry);
      }
    }
    env.push_back("TERM=xterm");
    // A ThreadSanitizer build: races inside the uninstrumented libcpp-httplib are not ours.
    char name[] = "/tmp/uasyncd-cli-tsan-XXXXXX";
    const int fd = mkstemp(name);
    if (fd >= 0) {
      close(fd);
      suppressions_ = name;
      std::ofstream(suppressions_) << "race:libcpp-httplib.so\n";
      tsan += (tsan.empty() ? "" : ":") + std::string("suppressions=") + suppressions_;
    }
    env.push_back("TSAN_OPTIONS=" + tsan);
    for (const std::string& e : options.env)
      env.push_back(e);
    return env;
  }

  void spawn(std::vector<std::string> args, const Options& options) {
    args.insert(args.begin(), UASYNCD_BIN);
    std::vector<char*> argv;
    for (std::string& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env = environment(options);
    std::vector<char*> envp;
    for (std::string& e : env)
      envp.push_back(e.data());
    envp.push_back(nullptr);

    int in[2];
    if (pipe2(in, O_CLOEXEC) != 0) return;
    int out[2] = {-1, -1};
    int err[2] = {-1, -1};
    int terminal = -1;
    if (options.terminal) {
      int master = -1;
      winsize size{};
      size.ws_col = 120;
      size.ws_row = 40;
      if (openpty(&master, &terminal, nullptr, nullptr, &size) != 0) return;
      fcntl(master, F_SETFD, FD_CLOEXEC);
      fcntl(terminal, F_SETFD, FD_CLOEXEC);
      out_fd_ = master;
    } else {
      if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return;
      out_fd_ = out[0];
      err_fd_ = err[0];
    }
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);  // a SIGINT sent to the test's group must not reach it, nor the reverse
      dup2(in[0], STDIN_FILENO);
      dup2(options.terminal ? terminal : out[1], STDOUT_FILENO);
      dup2(options.terminal ? terminal : err[1], STDERR_FILENO);
      execve(UASYNCD_BIN, argv.data(), envp.data());
      _exit(127);
    }
    close(in[0]);
    if (options.terminal) {
      close(terminal);
    } else {
      close(out[1]);
      close(err[1]);
    }
    // Small inputs only: the pipe holds 64 KiB, so this write cannot block on a child that has
    // not started reading.
    if (!options.stdin_text.empty()) {
      [[maybe_unused]] ssize_t n =
          write(in[1], options.stdin_text.data(), options.stdin_text.size());
    }
    close(in[1]);
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_;
  std::string err_;
  std::optional<int> status_;
  std::string suppressions_;
};

// Runs a client command to its end.
struct ClientResult {
  std::optional<int> code;  // nullopt: it did not end within the timeout (and was killed)
  std::string out;
  std::string err;
  std::chrono::milliseconds elapsed{0};
};

inline ClientResult run_client(std::vector<std::string> args, ClientProcess::Options options = {},
                               std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto start = ClientProcess::Clock::now();
  ClientProcess p(std::move(args), std::move(options));
  ClientResult r;
  r.code = p.finish(timeout);
  r.elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(ClientProcess::Clock::now() - start);
  r.out = p.out();
  r.err = p.err();
  return r;
}
