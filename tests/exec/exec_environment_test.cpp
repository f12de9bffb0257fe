// The allow-list of exec children's environment (issue 9): what passes from the daemon, what the
// step adds, and what only the supervisor process itself gets.
#include <gtest/gtest.h>

#include <algorithm>

#include "uasyncd/exec/exec_environment.hpp"

namespace ux = uasyncd::exec;

namespace {

const char* const kDaemonEnv[] = {"PATH=/usr/bin:/bin",
                                  "HOME=/root",
                                  "LANG=C.UTF-8",
                                  "LC_ALL=C",
                                  "LC_TIME=C",
                                  "TZ=UTC",
                                  "USER=u",
                                  "LOGNAME=u",
                                  "SHELL=/bin/sh",
                                  "TMPDIR=/tmp",
                                  "UASYNCD_TOKEN=secret",
                                  "UASYNCD_DATA_DIR=/data",
                                  "LD_PRELOAD=/lib/evil.so",
                                  "ASAN_OPTIONS=x",
                                  "AWS_SECRET_ACCESS_KEY=k",
                                  "LC_=odd",
                                  "=novalue",
                                  "NOEQUALS",
                                  nullptr};

}  // namespace

TEST(ExecEnvironment, OnlyTheAllowListIsInherited) {
  const auto env = ux::inherited_environment(kDaemonEnv);
  std::vector<std::string> names;
  for (const auto& [name, value] : env)
    names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"HOME", "LANG", "LC_ALL", "LC_TIME", "LOGNAME", "PATH",
                                             "SHELL", "TMPDIR", "TZ", "USER"}));
  EXPECT_EQ(env.at("PATH"), "/usr/bin:/bin");
}

TEST(ExecEnvironment, TheStepsEnvOverridesAndAdds) {
  const auto base = ux::inherited_environment(kDaemonEnv);
  const std::vector<std::string> env =
      ux::child_environment(base, {{"PATH", "/opt/bin"}, {"MY_VAR", "a=b"}});
  EXPECT_NE(std::find(env.begin(), env.end(), "PATH=/opt/bin"), env.end());
  EXPECT_NE(std::find(env.begin(), env.end(), "MY_VAR=a=b"), env.end());
  EXPECT_EQ(std::count_if(env.begin(), env.end(),
                          [](const std::string& e) { return e.starts_with("PATH="); }),
            1);
}

TEST(ExecEnvironment, TheSupervisorGetsWhatItNeedsToRunButNoDaemonSetting) {
  const std::vector<std::string> env = ux::supervisor_environment(kDaemonEnv);
  EXPECT_NE(std::find(env.begin(), env.end(), "LD_PRELOAD=/lib/evil.so"), env.end());
  EXPECT_NE(std::find(env.begin(), env.end(), "ASAN_OPTIONS=x"), env.end());
  for (const std::string& e : env) {
    EXPECT_FALSE(e.starts_with("UASYNCD_")) << e;
    EXPECT_FALSE(e.starts_with("AWS_")) << e;
  }
}
