// The client's exit codes, which scripts branch on (listed in `uasyncd --help` and docs/cli.md),
// and the error that ends a command with one of them.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace uasyncd::cli {

inline constexpr int kExitDone = 0;         // the task ended done (or the command succeeded)
inline constexpr int kExitFailed = 1;       // the task failed (or was interrupted)
inline constexpr int kExitUsage = 2;        // bad flags, arguments or input files
inline constexpr int kExitDaemon = 3;       // the daemon cannot be reached, or answered an error
inline constexpr int kExitTimedOut = 124;   // the task timed out (as timeout(1)), or a wait gave up
inline constexpr int kExitCancelled = 130;  // the task was cancelled (as a shell's Ctrl-C)

// The exit code for a task that ended in `state`: done 0, failed 1, interrupted 1, timed_out 124,
// cancelled 130. A state that is not final (or unknown) gives kExitFailed.
int exit_code_for_state(std::string_view state);

// True for the states a task or a step does not leave.
bool is_final_state(std::string_view state);

// Ends the command: main prints "uasyncd: <what()>" on stderr and exits with code().
class CliError : public std::runtime_error {
 public:
  CliError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// The daemon answered an HTTP error: the message is the one from its JSON error body.
class DaemonError : public CliError {
 public:
  DaemonError(int status, const std::string& message)
      : CliError(kExitDaemon, message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

}  // namespace uasyncd::cli
