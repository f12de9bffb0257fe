#include "uasyncd/store/setting_row.hpp"

namespace uasyncd::server {

const char* setting_kind_name(SettingKind kind) {
  return kind == SettingKind::schedule ? "schedule" : "queue";
}

std::optional<SettingKind> parse_setting_kind(std::string_view name) {
  if (name == "schedule") return SettingKind::schedule;
  if (name == "queue") return SettingKind::queue;
  return std::nullopt;
}

}  // namespace uasyncd::server
