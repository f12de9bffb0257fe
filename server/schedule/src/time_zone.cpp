#include "uasyncd/schedule/time_zone.hpp"

#include <date/tz.h>

#include <algorithm>
#include <exception>
#include <map>
#include <memory>
#include <mutex>

#include "ascii_case.hpp"
#include "message.hpp"
#include "zone_footer.hpp"

namespace uasyncd::schedule {

namespace detail {

// A zone's rules, loaded once per process and never freed (TimeZone handles point here).
struct ZoneRules {
  std::string name;
  const date::time_zone* zone = nullptr;  // the tz database's zone (lives as long as the process)
  std::chrono::sys_seconds last_listed;   // the last transition the zone file lists
  std::shared_ptr<const FooterRule> footer;  // the rule from last_listed on; null: the offset stays
};

}  // namespace detail

namespace {

using namespace std::chrono;

// date/tz reads the system database from here (its discover_tz_dir on Debian).
constexpr const char* kZoneDirectory = "/usr/share/zoneinfo/";

// Segments are clamped to years 0-10001: beyond the span schedules fire in, with a margin so
// that converting a bound to wall-clock time never overflows.
constexpr sys_seconds kSegmentFloor{sys_days{year{0} / 1 / 1}};
constexpr sys_seconds kSegmentCeiling{sys_days{year{10001} / 1 / 1}};

const std::string& utc_name() {
  static const std::string name = "UTC";
  return name;
}

Parsed<TimeZone> refuse_zone(std::string message) {
  return {std::nullopt, {"timezone", detail::joined({"timezone: ", message})}};
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
         c == '_' || c == '-' || c == '+';
}

// The database's zone of this name, or of a name that differs only in case; nullptr if none.
// Throws if the database cannot be read.
const date::time_zone* locate(std::string_view name) {
  const date::tzdb& db = date::get_tzdb();
  // The database keeps its zones sorted by name.
  auto it = std::lower_bound(
      db.zones.begin(), db.zones.end(), name,
      [](const date::time_zone& zone, std::string_view n) { return zone.name() < n; });
  if (it != db.zones.end() && it->name() == name) return &*it;
  for (const date::time_zone& zone : db.zones) {
    if (detail::same_ignoring_case(zone.name(), name)) return &zone;
  }
  return nullptr;
}

// Every zone's rules loaded so far, by name; at most one entry per zone of the database.
class ZoneRegistry {
 public:
  const detail::ZoneRules* rules_of(const date::time_zone& zone) {
    std::lock_guard lock(mutex_);
    auto it = rules_.find(zone.name());
    if (it != rules_.end()) return it->second.get();
    auto rules = std::make_unique<detail::ZoneRules>();
    rules->name = zone.name();
    rules->zone = &zone;
    rules->last_listed = zone.get_info(sys_days{year{9999} / 1 / 1}).begin;
    rules->footer = detail::read_footer_rule(kZoneDirectory + zone.name());
    return rules_.emplace(zone.name(), std::move(rules)).first->second.get();
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<detail::ZoneRules>, std::less<>> rules_;
};

ZoneRegistry& registry() {
  // Never destroyed: TimeZone handles may be used until the very end of the process.
  static ZoneRegistry* const instance = new ZoneRegistry;
  return *instance;
}

ZoneSegment clamped(sys_seconds begin, sys_seconds end, seconds offset) {
  return {std::clamp(begin, kSegmentFloor, kSegmentCeiling),
          std::clamp(end, kSegmentFloor, kSegmentCeiling), offset};
}

}  // namespace

const std::string& TimeZone::name() const {
  return rules_ ? rules_->name : utc_name();
}

ZoneSegment TimeZone::segment_at(sys_seconds t) const {
  if (!rules_) return {kSegmentFloor, kSegmentCeiling, seconds{0}};
  t = std::clamp(t, kSegmentFloor, kSegmentCeiling - seconds{1});
  if (rules_->footer && t >= rules_->last_listed) {
    ZoneSegment s = detail::footer_segment(*rules_->footer, t);
    return clamped(std::max(s.begin, rules_->last_listed), s.end, s.offset);
  }
  const date::sys_info info = rules_->zone->get_info(t);
  return clamped(info.begin, info.end, info.offset);
}

Parsed<TimeZone> find_time_zone(std::string_view name) {
  if (name.empty()) return refuse_zone("the time zone name is empty");
  if (name.size() > kMaxTimeZoneNameLength) {
    return refuse_zone(detail::joined(
        {"a time zone name has at most ", std::to_string(kMaxTimeZoneNameLength), " characters"}));
  }
  if (!std::all_of(name.begin(), name.end(), is_name_char) || name.front() == '/' ||
      name.find("//") != std::string_view::npos) {
    return refuse_zone(
        "a time zone name is made of letters, digits and / _ - + (e.g. "
        "\"Europe/Berlin\")");
  }
  if (name == "UTC" || name == "Etc/UTC") return {TimeZone{}, {}};
  const date::time_zone* zone = nullptr;
  try {
    zone = locate(name);
  } catch (const std::exception& e) {
    return refuse_zone(
        detail::joined({"the system time zone database cannot be read (", e.what(), ")"}));
  }
  if (!zone) return refuse_zone(detail::joined({"unknown time zone \"", name, "\""}));
  if (zone->name() == "UTC" || zone->name() == "Etc/UTC") return {TimeZone{}, {}};
  return {TimeZone{registry().rules_of(*zone)}, {}};
}

}  // namespace uasyncd::schedule
