// The exec supervisor with real processes, through its uasyncio client: spawning, output,
// exit statuses, spawn errors, signals to a group, the step-end kill of everything a command
// left behind, the environment, and many spawns at once.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "exec_test_support.hpp"

using namespace exec_test;

TEST_F(SupervisorTest, CapturesOutputAndTheExitStatus) {
  Finished f = ua::run(run_to_end(client_.get(), shell("echo out; echo err >&2; exit 3")));
  EXPECT_EQ(f.out, "out\n");
  EXPECT_EQ(f.err, "err\n");
  EXPECT_EQ(f.returncode, 3);
  EXPECT_GT(f.pid, 0);
}

TEST_F(SupervisorTest, StartLaunchesTheSupervisorBeforeTheFirstSpawn) {
  EXPECT_EQ(client_->supervisor_pid(), -1);  // nothing runs until asked
  client_->start();
  const pid_t supervisor = client_->supervisor_pid();
  ASSERT_GT(supervisor, 0);
  EXPECT_TRUE(running(supervisor));
  client_->start();  // once is enough
  EXPECT_EQ(client_->supervisor_pid(), supervisor);
  EXPECT_EQ(ua::run(run_to_end(client_.get(), command("true"))).returncode, 0);
  EXPECT_EQ(client_->supervisor_pid(), supervisor);
}

TEST(SupervisorStart, AProgramThatIsNotASupervisorIsAClearError) {
  ua::new_event_loop().set_virtual_clock(false);
  {
    ux::SupervisorClient missing({"/no/such/uasyncd", -1, 64});
    try {
      missing.start();
      ADD_FAILURE() << "started a missing program";
    } catch (const ux::SupervisorError& e) {
      EXPECT_NE(std::string(e.what()).find("/no/such/uasyncd"), std::string::npos) << e.what();
    }
    ux::SupervisorClient not_one({"/bin/true", -1, 64});  // exits without a word
    EXPECT_THROW(not_one.start(), ux::SupervisorError);
    EXPECT_EQ(not_one.supervisor_pid(), -1);
    try {
      ua::run(run_to_end(&not_one, command("true")));
      ADD_FAILURE() << "a spawn without a supervisor succeeded";
    } catch (const ux::SupervisorError&) {
    }
  }
  ua::new_event_loop();
}

TEST_F(SupervisorTest, ExitStatusAndReturncodeOfASignal) {
  auto body = [&]() -> ua::Coro<void> {
    ux::ExecProcess p = co_await client_->spawn(command("sleep", "100"));
    EXPECT_FALSE(p.exit_status());
    EXPECT_TRUE(p.terminate());
    EXPECT_EQ(co_await p.wait(), -SIGTERM);
    EXPECT_EQ(p.exit_status().value_or(ua::ExitStatus{}).term_signal, SIGTERM);
    EXPECT_EQ(p.returncode(), -SIGTERM);
    EXPECT_FALSE(p.kill());  // it has exited: nothing left to signal
  };
  ua::run(body());
}

TEST_F(SupervisorTest, CommandLeadsItsOwnSessionAndGroupWithStdinOnDevNull) {
  Finished f = ua::run(run_to_end(
      client_.get(), shell("echo $$; ps -o pgid= -o sid= -p $$; readlink /proc/self/fd/0")));
  const std::vector<pid_t> ids = numbers_in(f.out);
  ASSERT_GE(ids.size(), 3u) << f.out;
  EXPECT_EQ(ids[0], f.pid);
  EXPECT_EQ(ids[1], f.pid);  // its process group
  EXPECT_EQ(ids[2], f.pid);  // its session
  EXPECT_NE(f.out.find("/dev/null"), std::string::npos) << f.out;
}

TEST_F(SupervisorTest, SpawnErrorsNameTheProgramAndTheCause) {
  auto expect_error = [&](ux::ExecRequest r, int error, const std::string& text) {
    try {
      ua::run(run_to_end(client_.get(), std::move(r)));
      ADD_FAILURE() << "no SpawnError for " << text;
    } catch (const ua::SpawnError& e) {
      EXPECT_EQ(e.error_code(), error) << e.what();
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  };
  expect_error({{"/no/such/program", "x"}, "", {}}, ENOENT, "/no/such/program");
  expect_error({{"no-such-program-in-path"}, "", {}}, ENOENT, "no-such-program-in-path");
  expect_error({{"true"}, "/no/such/dir", {}}, ENOENT, "/no/such/dir");
  expect_error({{"/dev/null"}, "", {}}, EACCES, "/dev/null");
  // The supervisor is still there for the next one.
  EXPECT_EQ(ua::run(run_to_end(client_.get(), {{"true"}, "", {}})).returncode, 0);
}

TEST_F(SupervisorTest, BadRequestsAreRefusedBeforeAnythingStarts) {
  EXPECT_THROW(ua::run(run_to_end(client_.get(), {{}, "", {}})), std::invalid_argument);
  EXPECT_THROW(ua::run(run_to_end(client_.get(), {{std::string("a\0b", 3)}, "", {}})),
               std::invalid_argument);
  EXPECT_THROW(ua::run(run_to_end(client_.get(), {{"true"}, "", {{"A=B", "c"}}})),
               std::invalid_argument);
  EXPECT_EQ(client_->supervisor_pid(), -1);  // none was even started
}

TEST_F(SupervisorTest, RunsInCwdLookingUpThePathOfTheRequestEnvironment) {
  char dir_template[] = "/tmp/uasyncd-exec-XXXXXX";
  const std::string dir = ::mkdtemp(dir_template);
  const std::string tool = dir + "/only-here";
  std::ofstream(tool) << "#!/bin/sh\necho found; pwd\n";
  ::chmod(tool.c_str(), 0755);
  Finished f =
      ua::run(run_to_end(client_.get(), {{"only-here"}, "/tmp", {{"PATH", dir + ":/bin"}}}));
  EXPECT_EQ(f.out, "found\n/tmp\n");
  std::remove(tool.c_str());
  ::rmdir(dir.c_str());
}

TEST_F(SupervisorTest, SignalReachesTheWholeGroup) {
  auto body = [&]() -> ua::Coro<void> {
    ux::ExecProcess p =
        co_await client_->spawn(shell("trap 'echo got TERM; exit 7' TERM; sleep 100 & "
                                      "echo $!; wait"));
    const std::string line = co_await p.stdout_stream().readline();
    const pid_t sleeper = std::stoi(line);
    EXPECT_TRUE(running(sleeper));
    EXPECT_TRUE(p.signal_group(SIGTERM));
    EXPECT_EQ(co_await p.stdout_stream().readline(), "got TERM\n");
    EXPECT_EQ(co_await p.wait(), 7);
    EXPECT_FALSE(running(sleeper));
  };
  ua::run(body());
}

// The command's end takes its process group along: a background job that still holds the
// stdout pipe would otherwise keep the step (and the pipe) open for 1000 s.
TEST_F(SupervisorTest, StepEndKillsWhatTheCommandLeftInItsGroup) {
  const auto t0 = std::chrono::steady_clock::now();
  Finished f = ua::run(run_to_end(client_.get(), shell("sleep 1000 & echo $!; echo started")));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 30s);
  EXPECT_EQ(f.returncode, 0);
  const std::vector<pid_t> ids = numbers_in(f.out);
  ASSERT_EQ(ids.size(), 1u) << f.out;
  EXPECT_FALSE(running(ids[0])) << "the background sleep outlived its step";
}

// Not only the group: a process that moved to its own session and whose parent died (as a
// daemonising command does) is reparented to the step's keeper, which kills it too.
TEST_F(SupervisorTest, StepEndKillsProcessesThatLeftTheGroupAndTheSession) {
  auto body = [&]() -> ua::Coro<void> {
    // Each prints its pid once it leads its own session: one a child of the command, one
    // double-forked (its parent, a subshell, is gone at once).
    ux::ExecProcess p =
        co_await client_->spawn(shell("setsid sh -c 'echo a $$; exec sleep 1000' & "
                                      "(setsid sh -c 'echo b $$; exec sleep 1000' &); sleep 0.3"));
    std::map<std::string, pid_t> pids;
    for (int i = 0; i < 2; ++i) {
      std::istringstream line(co_await p.stdout_stream().readline());
      std::string label;
      pid_t pid = 0;
      line >> label >> pid;
      pids[label] = pid;
    }
    for (const auto& [label, pid] : pids)
      EXPECT_EQ(::getsid(pid), pid) << label << ": it did not leave the command's session";
    EXPECT_EQ(co_await p.wait(), 0);
    EXPECT_FALSE(running(pids["a"])) << "a process in its own session outlived its step";
    EXPECT_FALSE(running(pids["b"])) << "a double-forked process outlived its step";
  };
  ua::run(body());
}

TEST_F(SupervisorTest, OutputPipesReachEofAtTheStepEndEvenIfAGrandchildHeldThem) {
  // The grandchild keeps stdout open and would print in 5 s: EOF must come with the step's end.
  Finished f = ua::run(run_to_end(client_.get(), shell("(sleep 5; echo late) & echo now")));
  EXPECT_EQ(f.out, "now\n");
}

TEST_F(SupervisorTest, KillAllEndsEveryCommand) {
  auto body = [&]() -> ua::Coro<void> {
    std::vector<ux::ExecProcess> procs;
    for (int i = 0; i < 3; ++i)
      procs.push_back(co_await client_->spawn(command("sleep", "100")));
    EXPECT_EQ(client_->unfinished(), 3u);
    client_->kill_all();
    for (ux::ExecProcess& p : procs)
      EXPECT_EQ(co_await p.wait(), -SIGKILL);
    EXPECT_EQ(client_->unfinished(), 0u);
  };
  ua::run(body());
}

TEST_F(SupervisorTest, SignalPidReachesTheRunningCommandOnly) {
  auto body = [&]() -> ua::Coro<void> {
    ux::ExecProcess p = co_await client_->spawn(command("sleep", "100"));
    EXPECT_FALSE(client_->signal_pid(p.pid() + 100000, SIGKILL));
    EXPECT_TRUE(client_->signal_pid(p.pid(), SIGKILL));
    EXPECT_EQ(co_await p.wait(), -SIGKILL);
    EXPECT_FALSE(client_->signal_pid(p.pid(), SIGKILL));
  };
  ua::run(body());
}

TEST_F(SupervisorTest, DroppingTheProcessKillsIt) {
  auto body = [&]() -> ua::Coro<pid_t> {
    ux::ExecProcess p = co_await client_->spawn(command("sleep", "100"));
    co_return p.pid();
  };
  const pid_t pid = ua::run(body());
  EXPECT_TRUE(gone_within(pid, 2s));
}

TEST_F(SupervisorTest, ACancelledSpawnLeavesNothingRunning) {
  char path[] = "/tmp/uasyncd-exec-pid-XXXXXX";
  ::close(::mkstemp(path));
  auto spawn_only = [&]() -> ua::Coro<void> {
    const std::string script = std::string("echo $$ > ") + path + "; exec sleep 100";
    ux::ExecProcess p = co_await client_->spawn(shell(script));
    ADD_FAILURE() << "the spawn was not cancelled";
  };
  auto body = [&]() -> ua::Coro<void> {
    ua::Task<void> spawning = ua::create_task(spawn_only());
    co_await ua::sleep_ms(0);  // the request is on its way
    spawning.cancel();
    try {
      co_await spawning;
    } catch (const ua::CancelledError&) {
    }
    while (client_->unfinished() > 0)  // the command, started meanwhile, is killed and reaped
      co_await ua::sleep_ms(5);
  };
  ua::run(body());
  std::ifstream in(path);
  pid_t pid = 0;
  if (in >> pid) {
    EXPECT_FALSE(running(pid));
  }
  std::remove(path);
}

TEST_F(SupervisorTest, NoZombieAndNoKeeperLeftAfterManySpawns) {
  constexpr int kSpawns = 300;
  auto body = [&]() -> ua::Coro<int> {
    std::vector<ua::Task<Finished>> runs;
    for (int i = 0; i < kSpawns; ++i)
      runs.push_back(ua::create_task(run_to_end(client_.get(), shell("sleep 0.01 & exit 0"))));
    int ok = 0;
    for (ua::Task<Finished>& t : runs) {
      const Finished f = co_await t;
      EXPECT_EQ(f.returncode, 0) << f.out << f.err;
      ok += f.returncode == 0 ? 1 : 0;
    }
    co_return ok;
  };
  EXPECT_EQ(ua::run(body()), kSpawns);
  const pid_t supervisor = client_->supervisor_pid();
  ASSERT_GT(supervisor, 0);
  EXPECT_TRUE(running(supervisor));
  // Every keeper reported and is reaped; nothing below the supervisor is left, not even a
  // zombie. A keeper exits just after its last report, so the last ones may still be on their
  // way out when the last wait() returns: wait for that, bounded.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!children_of(supervisor).empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_TRUE(children_of(supervisor).empty());
  for (pid_t child : children_of(::getpid()))
    EXPECT_NE(state_of(child), 'Z') << "a zombie child of the test: " << child;
}

TEST_F(SupervisorTest, ThousandsOfSpawnsQueueBehindAFewSlots) {
  constexpr int kSpawns = 2000;
  client_.reset();
  ux::SupervisorOptions o = options();
  o.max_pending_spawns = 4;
  client_ = std::make_unique<ux::SupervisorClient>(o);
  auto one = [&](int i) -> ua::Coro<int> {
    ux::ExecProcess p = co_await client_->spawn(command("true"));
    co_return (co_await p.wait()) == 0 ? i : -1;
  };
  auto body = [&]() -> ua::Coro<long> {
    std::vector<ua::Task<int>> runs;
    for (int i = 0; i < kSpawns; ++i)
      runs.push_back(ua::create_task(one(i)));
    long sum = 0;
    for (ua::Task<int>& t : runs)
      sum += co_await t;
    co_return sum;
  };
  EXPECT_EQ(ua::run(body()), static_cast<long>(kSpawns) * (kSpawns - 1) / 2);
}

class SupervisorEnvironmentTest : public SupervisorTest {
 protected:
  // Set before the supervisor starts (at the first spawn), as the daemon's own environment.
  void SetUp() override {
    ::setenv("UASYNCD_TOKEN", "secret-token", 1);
    ::setenv("UASYNCD_TEST_LEAK", "leak", 1);
    ::setenv("SOME_DEPLOYMENT_SECRET", "x", 1);
    ::setenv("LC_TIME", "C", 1);
    SupervisorTest::SetUp();
  }
  void TearDown() override {
    SupervisorTest::TearDown();
    for (const char* name : {"UASYNCD_TOKEN", "UASYNCD_TEST_LEAK", "SOME_DEPLOYMENT_SECRET"})
      ::unsetenv(name);
  }
};

TEST_F(SupervisorEnvironmentTest, ChildrenGetTheAllowListAndTheirOwnEnvOnly) {
  Finished f = ua::run(
      run_to_end(client_.get(), {{"env"}, "", {{"STEP_VAR", "1"}, {"UASYNCD_STEP", "mine"}}}));
  ASSERT_EQ(f.returncode, 0);
  std::set<std::string> names;
  std::istringstream lines(f.out);
  for (std::string line; std::getline(lines, line);)
    names.insert(line.substr(0, line.find('=')));
  EXPECT_EQ(names.count("PATH"), 1u) << f.out;
  EXPECT_EQ(names.count("LC_TIME"), 1u) << f.out;
  EXPECT_EQ(names.count("STEP_VAR"), 1u) << f.out;
  EXPECT_EQ(names.count("UASYNCD_STEP"), 1u) << f.out;  // the step asked for it itself
  EXPECT_EQ(f.out.find("secret-token"), std::string::npos) << f.out;
  EXPECT_EQ(names.count("UASYNCD_TOKEN"), 0u) << f.out;
  EXPECT_EQ(names.count("UASYNCD_TEST_LEAK"), 0u) << f.out;
  EXPECT_EQ(names.count("SOME_DEPLOYMENT_SECRET"), 0u) << f.out;
  // Nor does the supervisor itself hold the daemon's configuration.
  std::ifstream environ_file("/proc/" + std::to_string(client_->supervisor_pid()) + "/environ");
  std::string supervisor_env((std::istreambuf_iterator<char>(environ_file)),
                             std::istreambuf_iterator<char>());
  EXPECT_EQ(supervisor_env.find("UASYNCD_"), std::string::npos);
}
