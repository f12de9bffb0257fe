// Job and step ids as the API writes them: "t12" is job 12, "t12.3" its step 3 (preorder).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace uasyncd::server {

struct JobRef {
  std::uint64_t id = 0;
  std::optional<std::size_t> step;
};

// Nullopt for anything that is not a job or step id in its one canonical form: "t", a decimal
// number without sign or leading zero, and for a step "." and another such number ("t12.0").
// Any other spelling ("t012", "t12.00", "t+1") names nothing, so no two texts name one job.
std::optional<JobRef> parse_job_ref(std::string_view text);
std::string job_id_text(std::uint64_t id);
std::string step_id_text(std::uint64_t id, std::size_t step);

}  // namespace uasyncd::server
