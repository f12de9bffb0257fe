#include "uasyncd/exec/exec_lock.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <utility>

namespace uasyncd::exec {
namespace {

using Clock = std::chrono::steady_clock;

bool try_lock(int fd) {
  for (;;) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return true;
    if (errno != EINTR) return false;
  }
}

bool lock_within(int fd, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  for (;;) {
    if (try_lock(fd)) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string pid_list(const std::vector<pid_t>& pids) {
  std::string s;
  for (pid_t p : pids)
    s += (s.empty() ? "" : ", ") + std::to_string(p);
  return s;
}

void signal_all(const std::vector<pid_t>& pids, int sig) {
  for (pid_t p : pids) {
    ::kill(p, SIGCONT);  // a stopped process cannot act on SIGTERM
    ::kill(p, sig);
  }
}

bool is_number(const char* s) {
  if (*s == '\0') return false;
  for (; *s != '\0'; ++s)
    if (*s < '0' || *s > '9') return false;
  return true;
}

}  // namespace

std::vector<pid_t> processes_holding(const std::string& path) {
  std::vector<pid_t> lockers;
  std::vector<pid_t> openers;
  struct stat target {};
  if (::stat(path.c_str(), &target) != 0) return lockers;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return lockers;
  const pid_t self = ::getpid();
  while (dirent* e = ::readdir(proc)) {
    if (!is_number(e->d_name)) continue;
    const auto pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid == self) continue;
    const std::string dir = std::string("/proc/") + e->d_name;
    DIR* fds = ::opendir((dir + "/fd").c_str());
    if (fds == nullptr) continue;  // gone, or not ours to look at
    bool opened = false;
    bool locked = false;
    while (dirent* f = ::readdir(fds)) {
      struct stat st {};
      if (!is_number(f->d_name) || ::stat((dir + "/fd/" + f->d_name).c_str(), &st) != 0 ||
          st.st_dev != target.st_dev || st.st_ino != target.st_ino) {
        continue;
      }
      opened = true;
      // The descriptor whose open file holds the flock lists it ("lock: 1: FLOCK ...").
      std::ifstream info(dir + "/fdinfo/" + f->d_name);
      for (std::string line; std::getline(info, line);)
        locked = locked || (line.starts_with("lock:") && line.find("FLOCK") != std::string::npos);
    }
    ::closedir(fds);
    if (locked) lockers.push_back(pid);
    if (opened) openers.push_back(pid);
  }
  ::closedir(proc);
  // A kernel that shows no locks in fdinfo leaves only "has it open" to go by.
  return lockers.empty() ? openers : lockers;
}

ExecLock ExecLock::acquire(const std::string& path, const ReclaimLimits& limits,
                           const std::function<void(const std::string&)>& warn) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error(path + ": " + std::strerror(errno));
  ExecLock lock(fd, path);
  if (lock_within(fd, limits.wait)) return lock;
  std::vector<pid_t> holders = processes_holding(path);
  if (warn) {
    warn(path + " is held by process(es) " + pid_list(holders) + " of a previous run after " +
         std::to_string(limits.wait.count()) + " ms: sending SIGTERM");
  }
  signal_all(holders, SIGTERM);
  if (lock_within(fd, limits.term)) return lock;
  holders = processes_holding(path);
  if (warn) warn(path + " still held by " + pid_list(holders) + " after SIGTERM: SIGKILL");
  signal_all(holders, SIGKILL);
  if (lock_within(fd, limits.kill)) return lock;
  throw std::runtime_error(path + " is still held by process(es) " +
                           pid_list(processes_holding(path)) +
                           ": processes of a previous run could not be stopped");
}

ExecLock::ExecLock(ExecLock&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), path_(std::move(o.path_)) {}

ExecLock& ExecLock::operator=(ExecLock&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    path_ = std::move(o.path_);
  }
  return *this;
}

ExecLock::~ExecLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace uasyncd::exec
