// Named queues (GET /api/queues) as a table, for `queue ls` and for the record `queue set`
// answers with. Copes with fields missing or of the wrong type ("-").
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "uasyncd/cli/output.hpp"

namespace uasyncd::cli {

// `queues`: an array of {name, max_running, paused, running, pending, scheduled,
// finished_per_second}. A max_running of 0 reads "no limit".
std::string queue_table_text(const nlohmann::json& queues, const Output& out);

}  // namespace uasyncd::cli
