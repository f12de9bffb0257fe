#include "process_tree.hpp"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace uasyncd::exec::detail {
namespace {

bool all_digits(const char* s) {
  if (*s == '\0') return false;
  for (; *s != '\0'; ++s)
    if (*s < '0' || *s > '9') return false;
  return true;
}

// The children files of every thread of this process; false if the kernel has none.
bool children_from_task_files(std::vector<pid_t>& out) {
  DIR* d = ::opendir("/proc/self/task");
  if (d == nullptr) return false;
  bool found = false;
  while (dirent* e = ::readdir(d)) {
    if (!all_digits(e->d_name)) continue;
    std::ifstream in(std::string("/proc/self/task/") + e->d_name + "/children");
    if (!in) continue;
    found = true;
    pid_t pid = 0;
    while (in >> pid)
      out.push_back(pid);
  }
  ::closedir(d);
  return found;
}

// The parent pid from /proc/PID/stat (after the command name, which may hold spaces and ')').
pid_t parent_of(const char* pid) {
  std::ifstream in(std::string("/proc/") + pid + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream rest(stat.substr(paren + 1));
  char state = 0;
  pid_t ppid = -1;
  rest >> state >> ppid;
  return ppid;
}

void children_from_proc_scan(std::vector<pid_t>& out) {
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return;
  const pid_t self = ::getpid();
  while (dirent* e = ::readdir(d)) {
    if (all_digits(e->d_name) && parent_of(e->d_name) == self) {
      out.push_back(static_cast<pid_t>(std::atoi(e->d_name)));
    }
  }
  ::closedir(d);
}

}  // namespace

std::vector<pid_t> own_children() {
  std::vector<pid_t> out;
  if (!children_from_task_files(out)) children_from_proc_scan(out);
  return out;
}

void kill_child_and_group(pid_t pid, pid_t spare_group) {
  const pid_t group = ::getpgid(pid);
  if (group > 1 && group != spare_group && group != ::getpgrp()) ::kill(-group, SIGKILL);
  ::kill(pid, SIGKILL);
}

}  // namespace uasyncd::exec::detail
