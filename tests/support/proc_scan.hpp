// Finding a test's processes in /proc: by a marker in their command lines (a sleep length no
// other process on the machine uses), live or not (zombies count as gone).
//
// Thread rules: any thread; each call reads /proc afresh. Lifetime: plain functions.
#pragma once

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <string>

namespace test_support {

// A sleep length that tags a test's exec processes: `prefix` (e.g. "7776.") and a random
// seven-digit fraction, so two tests running at once never count each other's processes.
inline std::string unique_marker(const std::string& prefix) {
  std::random_device rd;
  return prefix + std::to_string(rd() % 1000000 + 1000000);
}

// "" if it cannot be read: a /proc file of a process that exits meanwhile fails to read (ESRCH),
// which libstdc++ reports by throwing from the stream buffer.
inline std::string read_file_or_empty(const std::string& path) {
  try {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  } catch (const std::exception&) {
    return "";
  }
}

// Whether `pid` is a live process (not gone, not a zombie).
inline bool process_alive(pid_t pid) {
  const std::string stat = read_file_or_empty("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return false;
  const std::size_t paren = stat.rfind(')');  // the command name may hold spaces and parens
  return !(paren != std::string::npos && paren + 2 < stat.size() &&
           (stat[paren + 2] == 'Z' || stat[paren + 2] == 'X'));
}

// Live processes (this one excepted) whose command line mentions `marker`.
inline std::set<pid_t> processes_with(const std::string& marker) {
  std::set<pid_t> out;
  DIR* d = ::opendir("/proc");
  while (dirent* e = d != nullptr ? ::readdir(d) : nullptr) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || pid == ::getpid()) continue;
    std::string path = "/proc/";
    path += e->d_name;
    if (read_file_or_empty(path + "/cmdline").find(marker) == std::string::npos) continue;
    if (process_alive(static_cast<pid_t>(pid))) out.insert(static_cast<pid_t>(pid));
  }
  if (d != nullptr) ::closedir(d);
  return out;
}

}  // namespace test_support
