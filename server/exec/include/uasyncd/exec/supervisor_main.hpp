// The supervisor's entry point. The exec supervisor is the daemon's own binary run again with a
// hidden first argument, so the daemon stays one file and the supervisor always speaks the
// daemon's protocol version (it is started from /proc/self/exe).
//
//   int main(int argc, char** argv) {
//     if (std::optional<int> code = uasyncd::exec::run_supervisor_if_requested(argc, argv))
//       return *code;
//     ...
//
// Thread rules: call it first in main(), before anything starts a thread or reads flags; in
// supervisor mode it does not return until the supervisor is done (the process then exits).
#pragma once

#include <optional>
#include <string_view>

namespace uasyncd::exec {

// argv[1] of a supervisor; argv[2] is its channel fd, argv[3] its lock fd or -1.
inline constexpr std::string_view kSupervisorFlag = "--exec-supervisor";

// Runs the supervisor and gives its exit status when argv asks for it; nullopt otherwise.
std::optional<int> run_supervisor_if_requested(int argc, char** argv);

}  // namespace uasyncd::exec
