// The names of schedules and queues, as the daemon accepts them: checked here too, so a typo is a
// usage error on the spot rather than a 400 (or a 404 for a name that could never exist).
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <string_view>

namespace uasyncd::cli {

// 1 to 128 characters of A-Z a-z 0-9 . _ -
bool valid_resource_name(std::string_view name);

// For a flag or an argument that takes one: "<kind> name "x y": 1 to 128 characters of ...".
// `kind` is "schedule" or "queue".
CLI::Validator resource_name_validator(const std::string& kind);

}  // namespace uasyncd::cli
