// The exec supervisor for the tests of server/exec: a program that is nothing but the
// supervisor, as the daemon's binary is when run with --exec-supervisor.
#include <cstdio>

#include "uasyncd/exec/supervisor_main.hpp"

int main(int argc, char** argv) {
  if (std::optional<int> code = uasyncd::exec::run_supervisor_if_requested(argc, argv)) {
    return *code;
  }
  std::fprintf(stderr, "usage: %s --exec-supervisor CHANNEL_FD LOCK_FD\n", argv[0]);
  return 2;
}
