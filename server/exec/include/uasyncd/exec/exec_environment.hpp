// The environment of exec children: a documented allow-list of the daemon's variables plus the
// step's own `env`, never the daemon's configuration (UASYNCD_TOKEN and every other UASYNCD_*).
//
// Inherited when set: PATH, HOME, USER, LOGNAME, SHELL, LANG, LANGUAGE, LC_* (every locale
// category), TZ, TMPDIR. Nothing else: no UASYNCD_*, no LD_* (a preload meant for the daemon
// must not reach user commands), no proxies or credentials a deployment happened to set. A step
// that needs more passes it in its spec's `env`, which overrides and may name any variable
// (UASYNCD_* included: it is the submitter's own value, not the daemon's).
//
// Thread rules: pure functions; `envp` must not change while they read it.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace uasyncd::exec {

// True for a name on the allow-list above.
bool is_inherited_variable(std::string_view name);

// The allow-listed entries of an environ-style array (NAME=value strings, null-terminated).
std::map<std::string, std::string> inherited_environment(const char* const* envp);

// `base` with `extra` laid over it, as NAME=value strings.
std::vector<std::string> child_environment(const std::map<std::string, std::string>& base,
                                           const std::map<std::string, std::string>& extra);

// What the supervisor process itself is started with: the allow-list, plus what the daemon's
// own binary may need to run again (LD_LIBRARY_PATH, LD_PRELOAD, sanitizer options). Its
// children get inherited_environment() of this, so those extras stop at the supervisor.
std::vector<std::string> supervisor_environment(const char* const* envp);

}  // namespace uasyncd::exec
