#include "uasyncd/exec/supervisor_main.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "supervisor_process.hpp"

namespace uasyncd::exec {
namespace {

bool parse_fd(const char* s, int& fd) {
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < -1 || v > 1'000'000) return false;
  fd = static_cast<int>(v);
  return true;
}

}  // namespace

std::optional<int> run_supervisor_if_requested(int argc, char** argv) {
  if (argc < 2 || argv[1] != kSupervisorFlag) return std::nullopt;
  int channel = -1;
  int lock = -1;
  if (argc != 4 || !parse_fd(argv[2], channel) || channel < 0 || !parse_fd(argv[3], lock)) {
    std::fprintf(stderr, "%s is internal: the daemon starts its exec supervisor itself\n",
                 std::string(kSupervisorFlag).c_str());
    return 2;
  }
  return detail::run_supervisor(channel, lock);
}

}  // namespace uasyncd::exec
