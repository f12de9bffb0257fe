// Subprocesses (issue 3): spawn, capture, exit codes, signals, process groups, spawn errors.
// Children run in real time, so these tests put the loop back on the real clock.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <uasyncio/uasyncio.hpp>

#include "loop_fixture.hpp"

namespace ua = uasyncio;

namespace {

class SubprocessTest : public LoopTest {
 protected:
  void SetUp() override {
    LoopTest::SetUp();
    ua::get_event_loop().set_virtual_clock(false);
  }
};

ua::SubprocessOptions piped_stdout() {
  ua::SubprocessOptions o;
  o.stdout_mode = ua::Stdio::pipe;
  return o;
}

struct Result {
  std::string out;
  std::string err;
  int rc = 0;
};

ua::Coro<Result> run_capture(std::vector<std::string> argv, ua::SubprocessOptions opt) {
  ua::Process p = co_await ua::create_subprocess_exec(argv, opt);
  Result r;
  if (opt.stdout_mode == ua::Stdio::pipe) r.out = co_await p.stdout_stream().read(-1);
  if (opt.stderr_mode == ua::Stdio::pipe) r.err = co_await p.stderr_stream().read(-1);
  r.rc = co_await p.wait();
  co_return r;
}

Result capture(std::vector<std::string> argv, ua::SubprocessOptions opt = piped_stdout()) {
  return ua::run(run_capture(std::move(argv), std::move(opt)));
}

// A pid is gone once kill(pid, 0) fails with ESRCH, or once it is a zombie: a grandchild is
// reparented to init, which may take its time reaping it (or, in a container, never do).
bool pid_gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const std::size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

bool gone_within(pid_t pid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pid_gone(pid)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

std::string temp_dir() {
  std::string tmpl = ::testing::TempDir() + "ua_subprocess_XXXXXX";
  char* dir = ::mkdtemp(tmpl.data());
  if (dir == nullptr) throw std::runtime_error("mkdtemp failed");
  char resolved[PATH_MAX];
  if (::realpath(dir, resolved) == nullptr) throw std::runtime_error("realpath failed");
  return resolved;
}

}  // namespace

using Subprocess = SubprocessTest;

TEST_F(Subprocess, CapturesStdout) {
  Result r = capture({"echo", "hello"});
  EXPECT_EQ(r.out, "hello\n");
  EXPECT_EQ(r.rc, 0);
}

TEST_F(Subprocess, CapturesLargeOutputCompletely) {
  Result r = capture({"head", "-c", "1000000", "/dev/zero"});
  EXPECT_EQ(r.out.size(), 1'000'000u);
  EXPECT_EQ(r.out.find_first_not_of('\0'), std::string::npos);
}

TEST_F(Subprocess, CapturesStderrSeparately) {
  ua::SubprocessOptions o = piped_stdout();
  o.stderr_mode = ua::Stdio::pipe;
  Result r = capture({"sh", "-c", "echo out; echo err >&2"}, o);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST_F(Subprocess, StderrToStdoutSharesThePipe) {
  ua::SubprocessOptions o = piped_stdout();
  o.stderr_mode = ua::Stdio::to_stdout;
  Result r = capture({"sh", "-c", "echo out; echo err >&2"}, o);
  EXPECT_EQ(r.out, "out\nerr\n");
}

TEST_F(Subprocess, DevnullDiscardsAndGivesEmptyInput) {
  ua::SubprocessOptions o = piped_stdout();
  o.stdin_mode = ua::Stdio::devnull;
  o.stderr_mode = ua::Stdio::devnull;
  // cat reads an empty stdin; the message on stderr goes nowhere.
  Result r = capture({"sh", "-c", "cat; echo done; echo noise >&2"}, o);
  EXPECT_EQ(r.out, "done\n");
}

TEST_F(Subprocess, AStreamThatIsNotAPipeRaises) {
  auto body = []() -> ua::Coro<int> {
    std::vector<std::string> argv{"true"};
    ua::Process p = co_await ua::create_subprocess_exec(argv);
    int raised = 0;
    try {
      p.stdout_stream();
    } catch (const ua::RuntimeError&) {
      ++raised;
    }
    try {
      p.stdin_stream();
    } catch (const ua::RuntimeError&) {
      ++raised;
    }
    co_await p.wait();
    co_return raised;
  };
  EXPECT_EQ(ua::run(body()), 2);
}

TEST_F(Subprocess, StdinPipeFeedsTheChild) {
  auto body = []() -> ua::Coro<std::string> {
    std::vector<std::string> argv{"tr", "a-z", "A-Z"};
    ua::SubprocessOptions o = piped_stdout();
    o.stdin_mode = ua::Stdio::pipe;
    ua::Process p = co_await ua::create_subprocess_exec(argv, o);
    p.stdin_stream().write("hello ");
    p.stdin_stream().write("world\n");
    co_await p.stdin_stream().drain();
    co_await p.stdin_stream().wait_closed();  // EOF for tr (close() alone does nothing, §15.2)
    std::string out = co_await p.stdout_stream().read(-1);
    EXPECT_EQ(co_await p.wait(), 0);
    co_return out;
  };
  EXPECT_EQ(ua::run(body()), "HELLO WORLD\n");
}

TEST_F(Subprocess, ReadlineGivesOutputAsItComes) {
  auto body = []() -> ua::Coro<void> {
    std::vector<std::string> argv{"sh", "-c", "echo one; read x; echo \"two $x\""};
    ua::SubprocessOptions o = piped_stdout();
    o.stdin_mode = ua::Stdio::pipe;
    ua::Process p = co_await ua::create_subprocess_exec(argv, o);
    // The child waits for our answer, so "one" must arrive before the child has finished.
    EXPECT_EQ(co_await p.stdout_stream().readline(), "one\n");
    EXPECT_FALSE(p.returncode().has_value());
    p.stdin_stream().write("answer\n");
    EXPECT_EQ(co_await p.stdout_stream().readline(), "two answer\n");
    EXPECT_EQ(co_await p.stdout_stream().readline(), "");
    EXPECT_EQ(co_await p.wait(), 0);
  };
  ua::run(body());
}

TEST_F(Subprocess, CommunicateFeedsInputAndCollectsBothOutputs) {
  auto body = []() -> ua::Coro<void> {
    std::vector<std::string> argv{"sh", "-c", "tr a-z A-Z; echo done >&2; exit 4"};
    ua::SubprocessOptions o = piped_stdout();
    o.stdin_mode = ua::Stdio::pipe;
    o.stderr_mode = ua::Stdio::pipe;
    ua::Process p = co_await ua::create_subprocess_exec(argv, o);
    auto [out, err] = co_await p.communicate("abc\n");
    EXPECT_EQ(out, "ABC\n");
    EXPECT_EQ(err, "done\n");
    EXPECT_EQ(p.returncode(), 4);
  };
  ua::run(body());
}

TEST_F(Subprocess, CommunicateDrainsBothPipesAtOnce) {
  // The child fills stderr before it writes stdout: reading one pipe after the other would
  // leave it blocked on a full stderr pipe while we wait for its stdout.
  auto body = []() -> ua::Coro<void> {
    std::vector<std::string> argv{"sh", "-c",
                                  "head -c 1000000 /dev/zero >&2; head -c 500000 /dev/zero"};
    ua::SubprocessOptions o = piped_stdout();
    o.stderr_mode = ua::Stdio::pipe;
    ua::Process p = co_await ua::create_subprocess_exec(argv, o);
    auto [out, err] = co_await p.communicate();
    EXPECT_EQ(out.size(), 500'000u);
    EXPECT_EQ(err.size(), 1'000'000u);
    EXPECT_EQ(p.returncode(), 0);
  };
  ua::run(body());
}

TEST_F(Subprocess, ExitCodeIsReturned) {
  Result r = capture({"sh", "-c", "exit 3"});
  EXPECT_EQ(r.rc, 3);
}

TEST_F(Subprocess, ReturncodeIsEmptyUntilTheExitIsSeen) {
  auto body = []() -> ua::Coro<void> {
    std::vector<std::string> argv{"sh", "-c", "exit 7"};
    ua::Process p = co_await ua::create_subprocess_exec(argv);
    EXPECT_GT(p.pid(), 0);
    EXPECT_FALSE(p.returncode().has_value());
    EXPECT_EQ(co_await p.wait(), 7);
    EXPECT_EQ(p.returncode(), 7);
    EXPECT_TRUE(p.exit_status().has_value());
    EXPECT_FALSE(p.exit_status()->signaled());
    // A second wait returns at once with the same code.
    EXPECT_EQ(co_await p.wait(), 7);
  };
  ua::run(body());
}

TEST_F(Subprocess, EnvIsAddedToTheInheritedOne) {
  ::setenv("UA_SUBPROCESS_PARENT", "from-parent", 1);
  ua::SubprocessOptions o = piped_stdout();
  o.env["UA_CHILD"] = "from-options";
  Result r = capture({"sh", "-c", "printf '%s %s' \"$UA_SUBPROCESS_PARENT\" \"$UA_CHILD\""}, o);
  ::unsetenv("UA_SUBPROCESS_PARENT");
  EXPECT_EQ(r.out, "from-parent from-options");
}

TEST_F(Subprocess, EnvWithoutInheritingIsTheWholeEnvironment) {
  ::setenv("UA_SUBPROCESS_PARENT", "from-parent", 1);
  ua::SubprocessOptions o = piped_stdout();
  o.inherit_env = false;
  o.env["ONLY"] = "this";
  Result r = capture({"/usr/bin/env"}, o);
  ::unsetenv("UA_SUBPROCESS_PARENT");
  EXPECT_EQ(r.out, "ONLY=this\n");
}

TEST_F(Subprocess, CwdSetsTheWorkingDirectory) {
  const std::string dir = temp_dir();
  ua::SubprocessOptions o = piped_stdout();
  o.cwd = dir;
  Result r = capture({"pwd", "-P"}, o);
  ::rmdir(dir.c_str());
  EXPECT_EQ(r.out, dir + "\n");
}

TEST_F(Subprocess, TerminateEndsItWithSigterm) {
  auto body = []() -> ua::Coro<void> {
    std::vector<std::string> argv{"sleep", "100"};
    ua::Process p = co_await ua::create_subprocess_exec(argv);
    EXPECT_TRUE(p.terminate());
    EXPECT_EQ(co_await p.wait(), -SIGTERM);
    EXPECT_TRUE(p.exit_status()->signaled());
    EXPECT_EQ(p.exit_status()->term_signal, SIGTERM);
  };
  const auto start = std::chrono::steady_clock::now();
  ua::run(body());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(Subprocess, SendSignalReachesTheChildAndIsANoOpAfterExit) {
  auto body = []() -> ua::Coro<void> {
    std::vector<std::string> argv{"sleep", "100"};
    ua::Process p = co_await ua::create_subprocess_exec(argv);
    EXPECT_TRUE(p.send_signal(SIGKILL));
    EXPECT_EQ(co_await p.wait(), -SIGKILL);
    EXPECT_FALSE(p.send_signal(SIGTERM));
  };
  ua::run(body());
}

TEST_F(Subprocess, ChildLeadsItsOwnProcessGroupAndSession) {
  auto body = []() -> ua::Coro<void> {
    std::vector<std::string> argv{"sleep", "100"};
    ua::Process p = co_await ua::create_subprocess_exec(argv);
    EXPECT_EQ(::getpgid(p.pid()), p.pid());
    EXPECT_EQ(::getsid(p.pid()), p.pid());
    p.kill();
    co_await p.wait();
  };
  ua::run(body());
}

TEST_F(Subprocess, WithoutNewProcessGroupItStaysInOurs) {
  auto body = []() -> ua::Coro<void> {
    std::vector<std::string> argv{"sleep", "100"};
    ua::SubprocessOptions o;
    o.new_process_group = false;
    ua::Process p = co_await ua::create_subprocess_exec(argv, o);
    EXPECT_EQ(::getpgid(p.pid()), ::getpgrp());
    p.kill();  // must signal only the child here, not our own group
    EXPECT_EQ(co_await p.wait(), -SIGKILL);
  };
  ua::run(body());
}

namespace {
// The shell prints the pid of a background sleep and waits for it.
const char* const kTreeScript = "sleep 100 & echo $!; wait";

ua::Coro<pid_t> start_tree(ua::Process& p) {
  const std::string line = co_await p.stdout_stream().readline();
  co_return static_cast<pid_t>(std::stol(line));
}

ua::Coro<pid_t> kill_tree(bool kill_group) {
  std::vector<std::string> argv{"sh", "-c", kTreeScript};
  ua::Process p = co_await ua::create_subprocess_exec(argv, piped_stdout());
  const pid_t grandchild = co_await start_tree(p);
  EXPECT_FALSE(pid_gone(grandchild));
  if (kill_group) {
    EXPECT_TRUE(p.kill());
  } else {
    EXPECT_TRUE(p.send_signal(SIGKILL));
  }
  EXPECT_EQ(co_await p.wait(), -SIGKILL);
  co_return grandchild;
}
}  // namespace

TEST_F(Subprocess, KillReachesTheGrandchildren) {
  const pid_t grandchild = ua::run(kill_tree(true));
  EXPECT_TRUE(gone_within(grandchild, std::chrono::seconds(2)));
}

TEST_F(Subprocess, SendSignalAloneLeavesTheGrandchildRunning) {
  const pid_t grandchild = ua::run(kill_tree(false));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(pid_gone(grandchild));
  ::kill(grandchild, SIGKILL);
  EXPECT_TRUE(gone_within(grandchild, std::chrono::seconds(2)));
}

TEST_F(Subprocess, KillAfterTheChildExitedStillReachesItsGroup) {
  auto body = []() -> ua::Coro<pid_t> {
    std::vector<std::string> argv{"sh", "-c", "sleep 100 >/dev/null 2>&1 & echo $!"};
    ua::Process p = co_await ua::create_subprocess_exec(argv, piped_stdout());
    const std::string line = co_await p.stdout_stream().readline();
    EXPECT_EQ(co_await p.wait(), 0);
    const pid_t grandchild = static_cast<pid_t>(std::stol(line));
    EXPECT_FALSE(pid_gone(grandchild));
    EXPECT_TRUE(p.kill());
    co_return grandchild;
  };
  const pid_t grandchild = ua::run(body());
  EXPECT_TRUE(gone_within(grandchild, std::chrono::seconds(2)));
}

TEST_F(Subprocess, MissingProgramRaisesSpawnErrorNamingIt) {
  auto body = []() -> ua::Coro<void> {
    std::vector<std::string> argv{"ua-no-such-program-xyz", "arg"};
    co_await ua::create_subprocess_exec(argv);
  };
  try {
    ua::run(body());
    FAIL() << "no exception";
  } catch (const ua::SpawnError& e) {
    EXPECT_EQ(e.error_code(), ENOENT);
    EXPECT_EQ(e.program(), "ua-no-such-program-xyz");
    EXPECT_NE(std::string(e.what()).find("ua-no-such-program-xyz"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("ENOENT"), std::string::npos) << e.what();
  }
}

TEST_F(Subprocess, NonExecutableFileRaisesEacces) {
  const std::string dir = temp_dir();
  const std::string file = dir + "/not-executable";
  { std::ofstream(file) << "#!/bin/sh\necho hi\n"; }
  ::chmod(file.c_str(), 0644);
  auto body = [](std::string path) -> ua::Coro<void> {
    std::vector<std::string> argv{path};
    co_await ua::create_subprocess_exec(argv);
  };
  int code = 0;
  std::string what;
  try {
    ua::run(body(file));
  } catch (const ua::SpawnError& e) {
    code = e.error_code();
    what = e.what();
  }
  ::unlink(file.c_str());
  ::rmdir(dir.c_str());
  EXPECT_EQ(code, EACCES);
  EXPECT_NE(what.find(file), std::string::npos) << what;
}

TEST_F(Subprocess, MissingCwdRaisesSpawnError) {
  auto body = []() -> ua::Coro<void> {
    std::vector<std::string> argv{"true"};
    ua::SubprocessOptions o;
    o.cwd = "/ua-no-such-dir-xyz";
    co_await ua::create_subprocess_exec(argv, o);
  };
  try {
    ua::run(body());
    FAIL() << "no exception";
  } catch (const ua::SpawnError& e) {
    EXPECT_EQ(e.error_code(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("/ua-no-such-dir-xyz"), std::string::npos) << e.what();
  }
}

TEST_F(Subprocess, SpawnErrorIsAnOrdinaryException) {
  auto body = []() -> ua::Coro<bool> {
    std::vector<std::string> argv{"ua-no-such-program-xyz"};
    try {
      co_await ua::create_subprocess_exec(argv);
    } catch (const std::exception&) {
      co_return true;
    }
    co_return false;
  };
  EXPECT_TRUE(ua::run(body()));
}

namespace {
ua::Coro<int> wait_for_exit(ua::Process* p) {
  co_return co_await p->wait();
}

ua::Coro<void> cancel_wait() {
  std::vector<std::string> argv{"sleep", "100"};
  ua::Process p = co_await ua::create_subprocess_exec(argv);
  ua::Task<int> waiter = ua::create_task(wait_for_exit(&p));
  co_await ua::sleep_ms(20);
  EXPECT_FALSE(waiter.done());
  EXPECT_TRUE(waiter.cancel());
  co_await ua::sleep_ms(0);
  EXPECT_TRUE(waiter.cancelled());
  // The child runs on: cancelling a wait does not kill.
  co_await ua::sleep_ms(20);
  EXPECT_FALSE(p.returncode().has_value());
  EXPECT_FALSE(pid_gone(p.pid()));
  p.kill();
  EXPECT_EQ(co_await p.wait(), -SIGKILL);
}
}  // namespace

TEST_F(Subprocess, CancellingWaitLeavesTheChildRunning) {
  ua::run(cancel_wait());
}

TEST_F(Subprocess, WaitForTimesOutWithoutKilling) {
  auto body = []() -> ua::Coro<void> {
    std::vector<std::string> argv{"sleep", "100"};
    ua::Process p = co_await ua::create_subprocess_exec(argv);
    bool timed_out = false;
    try {
      co_await ua::wait_for_ms(wait_for_exit(&p), 50);
    } catch (const ua::TimeoutError&) {
      timed_out = true;
    }
    EXPECT_TRUE(timed_out);
    EXPECT_FALSE(p.returncode().has_value());
    p.terminate();
    EXPECT_EQ(co_await p.wait(), -SIGTERM);
  };
  ua::run(body());
}

TEST_F(Subprocess, ManyWaitersAllWake) {
  auto body = []() -> ua::Coro<void> {
    std::vector<std::string> argv{"sh", "-c", "sleep 0.05; exit 5"};
    ua::Process p = co_await ua::create_subprocess_exec(argv);
    std::vector<ua::Task<int>> waiters;
    for (int i = 0; i < 5; ++i)
      waiters.push_back(ua::create_task(wait_for_exit(&p)));
    std::vector<int> codes = co_await ua::gather(std::move(waiters));
    EXPECT_EQ(codes, std::vector<int>(5, 5));
  };
  ua::run(body());
}

TEST_F(Subprocess, ManyChildrenConcurrently) {
  auto one = [](int i) -> ua::Coro<int> {
    std::vector<std::string> argv{"sh", "-c", "exit " + std::to_string(i)};
    ua::Process p = co_await ua::create_subprocess_exec(argv);
    co_return co_await p.wait();
  };
  std::vector<ua::Coro<int>> coros;
  for (int i = 0; i < 50; ++i)
    coros.push_back(one(i));
  auto all = [](std::vector<ua::Coro<int>> cs) -> ua::Coro<std::vector<int>> {
    co_return co_await ua::gather(std::move(cs));
  };
  std::vector<int> codes = ua::run(all(std::move(coros)));
  ASSERT_EQ(codes.size(), 50u);
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(codes[static_cast<std::size_t>(i)], i);
}

TEST_F(Subprocess, DroppedProcessIsStillReaped) {
  auto body = []() -> ua::Coro<pid_t> {
    std::vector<std::string> argv{"sleep", "0.1"};
    pid_t pid = 0;
    {
      ua::Process p = co_await ua::create_subprocess_exec(argv, piped_stdout());
      pid = p.pid();
    }
    // The loop keeps the handle until the child exits and reaps it (no zombie of ours remains);
    // a leaked handle or state would show up under the sanitizers.
    co_await ua::sleep_ms(400);
    co_return pid;
  };
  const pid_t pid = ua::run(body());
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST_F(Subprocess, ShellRunsACommandLine) {
  auto body = []() -> ua::Coro<Result> {
    ua::Process p = co_await ua::create_subprocess_shell("echo $((6 * 7))", piped_stdout());
    Result r;
    r.out = co_await p.stdout_stream().read(-1);
    r.rc = co_await p.wait();
    co_return r;
  };
  Result r = ua::run(body());
  EXPECT_EQ(r.out, "42\n");
  EXPECT_EQ(r.rc, 0);
}

// communicate() hands its coroutine everything it needs when it is called: the Process may go
// before the coroutine runs (it took a raw pointer to the process state and counted its
// reference only once it started: by then a reaped child's state was freed).
namespace {
ua::Coro<std::string> communicate_outliving_its_process() {
  std::optional<ua::Coro<std::pair<std::string, std::string>>> talk;
  {
    std::vector<std::string> argv{"sh", "-c", "echo hi"};
    ua::Process p = co_await ua::create_subprocess_exec(argv, piped_stdout());
    talk.emplace(p.communicate());
    EXPECT_EQ(co_await p.wait(), 0);  // reaped: only the Process holds the state now
  }
  auto [out, err] = co_await std::move(*talk);
  co_return out;
}
}  // namespace

TEST_F(Subprocess, CommunicateOutlivesTheProcessObject) {
  EXPECT_EQ(ua::run(communicate_outliving_its_process()), "hi\n");
}
