#include "uasyncd/cli/resource_name.hpp"

#include "uasyncd/cli/safe_text.hpp"

namespace uasyncd::cli {
namespace {

// The daemon's limit: a name is a path segment and a key of its store.
constexpr std::size_t kMaxNameLength = 128;

bool name_character(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

}  // namespace

bool valid_resource_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  for (char c : name) {
    if (!name_character(c)) return false;
  }
  return true;
}

CLI::Validator resource_name_validator(const std::string& kind) {
  return CLI::Validator(
      [kind](std::string& text) -> std::string {
        if (valid_resource_name(text)) return {};
        return kind + " name \"" + truncate_to_width(printable(text), 40) +
               "\": 1 to 128 characters of A-Z a-z 0-9 . _ -";
      },
      "NAME");
}

}  // namespace uasyncd::cli
