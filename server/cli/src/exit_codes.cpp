#include "uasyncd/cli/exit_codes.hpp"

namespace uasyncd::cli {

int exit_code_for_state(std::string_view state) {
  if (state == "done") return kExitDone;
  if (state == "timed_out") return kExitTimedOut;
  if (state == "cancelled") return kExitCancelled;
  return kExitFailed;
}

bool is_final_state(std::string_view state) {
  return state == "done" || state == "failed" || state == "cancelled" || state == "timed_out" ||
         state == "interrupted";
}

}  // namespace uasyncd::cli
