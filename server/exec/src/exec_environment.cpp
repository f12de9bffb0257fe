#include "uasyncd/exec/exec_environment.hpp"

#include <array>

namespace uasyncd::exec {
namespace {

constexpr std::array<std::string_view, 9> kInherited = {
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR"};

// Needed to run the daemon's binary once more, never passed on to commands.
constexpr std::array<std::string_view, 6> kSupervisorOnly = {"LD_LIBRARY_PATH", "LD_PRELOAD",
                                                             "ASAN_OPTIONS",    "UBSAN_OPTIONS",
                                                             "LSAN_OPTIONS",    "TSAN_OPTIONS"};

bool split(std::string_view entry, std::string_view& name, std::string_view& value) {
  const std::size_t eq = entry.find('=');
  if (eq == std::string_view::npos || eq == 0) return false;
  name = entry.substr(0, eq);
  value = entry.substr(eq + 1);
  return true;
}

bool contains(const auto& list, std::string_view name) {
  for (std::string_view n : list)
    if (n == name) return true;
  return false;
}

}  // namespace

bool is_inherited_variable(std::string_view name) {
  if (name.starts_with("LC_") && name.size() > 3) return true;
  return contains(kInherited, name);
}

std::map<std::string, std::string> inherited_environment(const char* const* envp) {
  std::map<std::string, std::string> out;
  for (; envp != nullptr && *envp != nullptr; ++envp) {
    std::string_view name;
    std::string_view value;
    if (split(*envp, name, value) && is_inherited_variable(name)) {
      out.emplace(std::string(name), std::string(value));  // the first wins, as getenv's
    }
  }
  return out;
}

std::vector<std::string> child_environment(const std::map<std::string, std::string>& base,
                                           const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> merged = base;
  for (const auto& [name, value] : extra)
    merged[name] = value;
  std::vector<std::string> out;
  out.reserve(merged.size());
  for (const auto& [name, value] : merged)
    out.push_back(name + "=" + value);
  return out;
}

std::vector<std::string> supervisor_environment(const char* const* envp) {
  std::vector<std::string> out;
  for (; envp != nullptr && *envp != nullptr; ++envp) {
    std::string_view name;
    std::string_view value;
    if (split(*envp, name, value) &&
        (is_inherited_variable(name) || contains(kSupervisorOnly, name))) {
      out.emplace_back(*envp);
    }
  }
  return out;
}

}  // namespace uasyncd::exec
