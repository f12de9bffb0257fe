// How a schedule's record (GET /api/schedules/{name}) reads in the client's human output. Each
// function takes the JSON as the daemon sent it and copes with a field missing or of the wrong
// type ("-" or "?"); text from the daemon is made printable.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "uasyncd/cli/output.hpp"
#include "uasyncd/cli/table.hpp"

namespace uasyncd::cli {

// Seconds as the shortest decimal that keeps the daemon's millisecond: "3600", "0.25".
std::string seconds_text(double seconds);

// When it fires: "0 3 * * * (Europe/Berlin)", or "every 3600s".
std::string schedule_when(const nlohmann::json& record);

// Its next fire in local time, "2026-12-03 03:00:00"; "-" when it has none (paused).
std::string schedule_next_fire(const nlohmann::json& record);

// Its last run, "t5 done" coloured by the state; "t5" when the task is forgotten, "-" for none.
Cell schedule_last_run(const nlohmann::json& record);

// The one line `schedule add` and `resume` print: "added schedule nightly: next fire ..."
// (or ": paused"). `verb` is "added" or "resumed".
std::string schedule_change_line(std::string_view verb, const nlohmann::json& record);

// The whole record, one field a line (`schedule show`).
std::string schedule_record_text(const nlohmann::json& record, const Output& out);

}  // namespace uasyncd::cli
