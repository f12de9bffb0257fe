// How a task's fields read in the client's human output. Every function takes JSON as the daemon
// sent it and copes with a field missing or of the wrong type (it shows "-" or "?").
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>

#include "uasyncd/cli/output.hpp"

namespace uasyncd::cli {

// `key` of `object` if it is a string, else `fallback` (not made printable: callers do that).
std::string string_field(const nlohmann::json& object, std::string_view key,
                         std::string_view fallback = "");

// Seconds since the epoch as local time, "2026-11-21 10:30:05"; "-" for null.
std::string format_time(const nlohmann::json& seconds);
// A duration in seconds: "0.250s", "7.002s", "2m05s", "1h02m"; "-" for null.
std::string format_duration(const nlohmann::json& seconds);
// The colour a state is shown in: done green, failed red, timed_out and cancelled yellow,
// running cyan, pending dim, interrupted magenta.
Color state_color(std::string_view state);
// {"type", "message"} as "Type: message" (or just "Type"); "" for null.
std::string error_text(const nlohmann::json& error);
// A JSON value on one printable line, cut to `max_width` columns.
std::string one_line(const nlohmann::json& value, std::size_t max_width);

// A "label   value" line of a record shown as a list of fields, the label in bold and padded
// to `width` columns.
std::string field_line(const Output& out, std::string_view label, std::string_view value,
                       std::size_t width);

// How a waited-for task ended, for a terminal: "t1 done in 7.002s", then "result: ..." or
// "error: ..." when there is one.
std::string outcome_text(const nlohmann::json& record, const Output& out);

}  // namespace uasyncd::cli
