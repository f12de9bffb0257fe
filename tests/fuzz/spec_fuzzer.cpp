// Fuzzes a request body through the JSON body reader and the spec validator: either may refuse,
// neither may crash, leak or run away; an accepted spec must survive a dump and re-parse.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "uasyncd/api/json_body.hpp"
#include "uasyncd/job/job_spec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  uasyncd::api::ApiError error;
  std::optional<nlohmann::json> doc = uasyncd::api::parse_json_body(body, error);
  if (!doc) return 0;
  const uasyncd::server::ParsedSpec parsed = uasyncd::server::parse_job_spec(*doc);
  if (!parsed) return 0;
  // What the store keeps is the document's dump; reading it back must give a valid spec again,
  // or a restart would lose the task.
  std::optional<nlohmann::json> again = uasyncd::api::parse_json_body(doc->dump(), error);
  if (!again || !uasyncd::server::parse_job_spec(*again)) std::abort();
  return 0;
}
