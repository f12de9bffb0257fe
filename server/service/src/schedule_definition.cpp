#include "uasyncd/service/schedule_definition.hpp"

#include <chrono>
#include <cmath>
#include <utility>

#include "uasyncd/job/job_spec.hpp"

namespace uasyncd::server {
namespace {

using nlohmann::json;

// Keys a client may send; a stored body has these and the ones kept with it.
constexpr const char* kScheduleRequestKeys[] = {"name", "cron",    "timezone", "every",
                                                "spec", "overlap", "catch_up", "paused"};
constexpr const char* kScheduleStoredKeys[] = {"created_ms", "start_ms", "last_run_id", "runs",
                                               "skipped"};

schedule::Instant definition_instant(std::int64_t ms) {
  return schedule::Instant(std::chrono::milliseconds(ms));
}

// Fails parsing with `message` (a JSON path first).
struct DefinitionRefused {
  std::string message;
};

const json* definition_member(const json& body, const char* key) {
  auto it = body.find(key);
  return it == body.end() ? nullptr : &*it;
}

std::string definition_string(const json& v, const char* path) {
  if (!v.is_string())
    throw DefinitionRefused{std::string(path) + ": expected a string, got " + v.type_name()};
  return v.get<std::string>();
}

template <class E, std::size_t N>
E definition_choice(const json* v, const char* path, const char* const (&names)[N], E fallback) {
  if (v == nullptr) return fallback;
  const std::string text = definition_string(*v, path);
  for (std::size_t i = 0; i < N; ++i) {
    if (text == names[i]) return static_cast<E>(i);
  }
  std::string message = std::string(path) + ": expected one of";
  for (std::size_t i = 0; i < N; ++i)
    message += std::string(i == 0 ? " \"" : ", \"") + names[i] + "\"";
  throw DefinitionRefused{std::move(message)};
}

constexpr const char* kOverlapNames[] = {"skip", "allow", "queue"};
constexpr const char* kCatchUpNames[] = {"none", "one"};

std::uint64_t definition_counter(const json& body, const char* key) {
  const json* v = definition_member(body, key);
  if (v == nullptr) return 0;
  if (!v->is_number_unsigned()) throw DefinitionRefused{std::string("$.") + key + ": not a count"};
  return v->get<std::uint64_t>();
}

std::int64_t definition_time(const json& body, const char* key) {
  const json* v = definition_member(body, key);
  if (v == nullptr) return 0;
  if (!v->is_number_integer()) throw DefinitionRefused{std::string("$.") + key + ": not a time"};
  return v->get<std::int64_t>();
}

ScheduleDefinition parse_definition(const json& body, std::int64_t now_ms, bool stored) {
  if (!body.is_object())
    throw DefinitionRefused{std::string("$: expected an object, got ") + body.type_name()};
  for (const auto& [key, v] : body.items()) {
    bool known = false;
    for (const char* k : kScheduleRequestKeys)
      known = known || key == k;
    for (const char* k : kScheduleStoredKeys)
      known = known || (stored && key == k);
    // The key is not quoted: it passed no character check.
    if (!known)
      throw DefinitionRefused{
          "$: unknown key (expected name, cron, timezone, every, spec, "
          "overlap, catch_up, paused)"};
  }
  ScheduleDefinition d;
  const json* name = definition_member(body, "name");
  if (name == nullptr) throw DefinitionRefused{"$.name: required"};
  d.name = definition_string(*name, "$.name");
  if (!schedule_name_ok(d.name)) {
    throw DefinitionRefused{"$.name: 1 to 128 characters of A-Z a-z 0-9 . _ -"};
  }
  const json* cron = definition_member(body, "cron");
  const json* every = definition_member(body, "every");
  const json* zone = definition_member(body, "timezone");
  if ((cron == nullptr) == (every == nullptr)) {
    throw DefinitionRefused{cron == nullptr
                                ? "$.cron: required (or \"every\", seconds)"
                                : "$.every: a schedule has a cron or an every, not both"};
  }
  d.created_ms = stored ? definition_time(body, "created_ms") : now_ms;
  if (cron != nullptr) {
    d.cron = definition_string(*cron, "$.cron");
    if (zone != nullptr) d.timezone = definition_string(*zone, "$.timezone");
    schedule::Parsed<schedule::Schedule> s = schedule::make_cron_schedule(d.cron, d.timezone);
    if (!s) throw DefinitionRefused{"$." + s.error.message};
    d.when = std::move(*s.value);
  } else {
    if (zone != nullptr)
      throw DefinitionRefused{"$.timezone: applies to a cron schedule, not to every"};
    if (!every->is_number()) {
      throw DefinitionRefused{std::string("$.every: expected a number of seconds, got ") +
                              every->type_name()};
    }
    d.every = every->get<double>();
    const double period_ms = std::round(*d.every * 1000.0);
    d.start_ms = stored ? definition_time(body, "start_ms")
                 : std::isfinite(period_ms) && period_ms < 9e15
                     ? now_ms + static_cast<std::int64_t>(period_ms)
                     : now_ms;
    schedule::Parsed<schedule::Schedule> s =
        schedule::make_interval_schedule(*d.every, definition_instant(d.start_ms));
    if (!s) throw DefinitionRefused{"$." + s.error.message};
    d.when = std::move(*s.value);
  }
  const json* spec = definition_member(body, "spec");
  if (spec == nullptr) throw DefinitionRefused{"$.spec: required (the task spec of every run)"};
  for (const char* own : {"schedule", "delay", "at"}) {
    if (spec->is_object() && spec->contains(own)) {
      throw DefinitionRefused{std::string("$.spec.") + own +
                              ": a schedule's run is made when it fires; it takes no " + own};
    }
  }
  ParsedSpec parsed = parse_job_spec(*spec);
  if (!parsed) {
    const std::string& own = parsed.error.message;
    throw DefinitionRefused{own.rfind('$', 0) == 0 ? "$.spec" + own.substr(1) : "$.spec: " + own};
  }
  d.spec = *spec;
  d.overlap = definition_choice(definition_member(body, "overlap"), "$.overlap", kOverlapNames,
                                Overlap::skip);
  d.catch_up = definition_choice(definition_member(body, "catch_up"), "$.catch_up", kCatchUpNames,
                                 CatchUp::none);
  if (const json* paused = definition_member(body, "paused")) {
    if (!paused->is_boolean()) {
      throw DefinitionRefused{std::string("$.paused: expected a boolean, got ") +
                              paused->type_name()};
    }
    d.paused = paused->get<bool>();
  }
  if (stored) {
    d.last_run_id = definition_counter(body, "last_run_id");
    d.runs = definition_counter(body, "runs");
    d.skipped = definition_counter(body, "skipped");
  }
  return d;
}

ParsedSchedule parse_or_refuse(const json& body, std::int64_t now_ms, bool stored) {
  ParsedSchedule out;
  try {
    out.definition = parse_definition(body, now_ms, stored);
  } catch (const DefinitionRefused& r) {
    out.message = r.message;
  }
  return out;
}

}  // namespace

const char* overlap_name(Overlap o) {
  return kOverlapNames[static_cast<std::size_t>(o)];
}

const char* catch_up_name(CatchUp c) {
  return kCatchUpNames[static_cast<std::size_t>(c)];
}

bool schedule_name_ok(std::string_view name) {
  return queue_name_ok(name);
}

ParsedSchedule parse_schedule_request(const json& body, std::int64_t now_ms) {
  return parse_or_refuse(body, now_ms, false);
}

SettingRow schedule_row(const ScheduleDefinition& d, std::int64_t fired_ms) {
  json body{{"name", d.name},
            {"spec", d.spec},
            {"overlap", overlap_name(d.overlap)},
            {"catch_up", catch_up_name(d.catch_up)},
            {"paused", d.paused},
            {"created_ms", d.created_ms},
            {"last_run_id", d.last_run_id},
            {"runs", d.runs},
            {"skipped", d.skipped}};
  if (d.every) {
    body["every"] = *d.every;
    body["start_ms"] = d.start_ms;
  } else {
    body["cron"] = d.cron;
    body["timezone"] = d.timezone;
  }
  SettingRow row;
  row.kind = SettingKind::schedule;
  row.name = d.name;
  row.body = body.dump();
  row.fired_ms = fired_ms;
  return row;
}

ParsedSchedule schedule_of_row(const SettingRow& row) {
  const json body = json::parse(row.body, nullptr, false);
  if (body.is_discarded()) return {std::nullopt, "not JSON"};
  ParsedSchedule out = parse_or_refuse(body, 0, true);
  if (out && out.definition->name != row.name) {
    return {std::nullopt, "its body names another schedule"};
  }
  return out;
}

}  // namespace uasyncd::server
