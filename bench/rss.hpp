// Resident-set figures of this process from /proc/self, for "peak RSS" and "bytes per task".
#pragma once

#include <cstdint>
#include <fstream>
#include <string>

namespace bench {

// A "VmXXX:  1234 kB" field of /proc/self/status, in bytes (0 if absent).
inline std::int64_t status_bytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, field.size() + 1, field + ":") == 0) {
      return std::stoll(line.substr(field.size() + 1)) * 1024;
    }
  }
  return 0;
}

// Lowers the peak (VmHWM) to the current RSS, so the next peak read belongs to what runs after.
// Returns false where the kernel does not allow it (the peak then covers the whole process).
inline bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

}  // namespace bench
