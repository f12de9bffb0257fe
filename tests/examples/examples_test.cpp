// The seed examples (examples/*.cpp) run as programs, checked against what they print on real
// MicroPython (§19): each line, the loop time it was printed at, and the exit status. They run
// on the virtual clock, so the 7 s of the doc's examples take milliseconds.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct Outcome {
  std::vector<std::string> out;  // stdout, one entry per line
  std::string err;
  int exit_code = -1;  // -1: killed or did not exit normally
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

// Runs `program` with the given extra environment settings (replacing inherited ones of the
// same name), its stdout and stderr going to files. A program that hangs is killed after 30 s.
Outcome run_example(const std::string& program, const std::vector<std::string>& settings) {
  std::vector<std::string> env_strings(settings);
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    bool overridden = false;
    for (const std::string& s : settings) {
      if (entry.starts_with(s.substr(0, s.find('=') + 1))) overridden = true;
    }
    if (!overridden) env_strings.push_back(entry);
  }
  std::vector<char*> envp;
  for (std::string& s : env_strings)
    envp.push_back(s.data());
  envp.push_back(nullptr);

  const std::string base = ::testing::TempDir() + "example_" + std::to_string(::getpid());
  const std::string out_path = base + ".out", err_path = base + ".err";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  std::vector<char*> argv{const_cast<char*>(program.c_str()), nullptr};
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    ADD_FAILURE() << "cannot start " << program << ": " << std::strerror(rc);
    return {};
  }

  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ADD_FAILURE() << program << " did not finish within 30 s";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Outcome result;
  result.out = lines_of(slurp(out_path));
  result.err = slurp(err_path);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::remove(out_path.c_str());
  std::remove(err_path.c_str());
  return result;
}

// Virtual clock, and every line stamped with the loop time it was printed at.
Outcome run_timed(const std::string& program) {
  return run_example(program, {"UASYNCIO_CLOCK=virtual", "UASYNCIO_EXAMPLE_TIMES=1"});
}

}  // namespace

// §19.1: the task waits for a run() that never comes, so its body never prints.
TEST(SeedExamples, CreateTaskWithoutRunPrintsNothing) {
  const Outcome r = run_timed(EXAMPLE_CREATE_TASK);
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.exit_code, 0);
}

// §19.2
TEST(SeedExamples, RunPrintsRunningMyCoroutine) {
  const Outcome r = run_timed(EXAMPLE_RUN);
  EXPECT_THAT(r.out, ElementsAre("[0.000] Running my_coroutine"));
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.exit_code, 0);
}

// The time stamps are the test's opt-in: without UASYNCIO_EXAMPLE_TIMES the example prints
// exactly what the doc's program prints.
TEST(SeedExamples, LinesCarryNoTimeUnlessAskedFor) {
  const Outcome r =
      run_example(EXAMPLE_RUN, {"UASYNCIO_CLOCK=virtual", "UASYNCIO_EXAMPLE_TIMES=0"});
  EXPECT_THAT(r.out, ElementsAre("Running my_coroutine"));
  EXPECT_EQ(r.exit_code, 0);
}

// §19.3 (its intent): the wait_for task is cancelled at 5 s, before its 7 s timeout, and the
// task awaiting it gets CancelledError rather than TimeoutError.
TEST(SeedExamples, TaskCancelReportsCancelledErrorAtFiveSeconds) {
  const Outcome r = run_timed(EXAMPLE_TASK_CANCEL);
  EXPECT_THAT(r.out, ElementsAre("[0.000] Start cancellable bar()", "[5.000] About to cancel bar",
                                 "[5.000] Cancelled: CancelledError()"));
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.exit_code, 0);
}

// §19.4, §4.8: the nested run drives the loop until its wait_for times out at 7 s; the
// TimeoutError leaves main and the outer run() like an uncaught Python exception.
TEST(SeedExamples, WaitForNestedRunTimesOutAtSevenSecondsAndExitsWithOne) {
  const Outcome r = run_timed(EXAMPLE_WAIT_FOR);
  EXPECT_THAT(
      r.out,
      ElementsAre("[0.000] Instance: 10 count: 1", "[2.000] sleep count instance = 10 count = 1",
                  "[2.000] Instance: 10 count: 2", "[4.000] sleep count instance = 10 count = 2",
                  "[4.000] Instance: 10 count: 3", "[6.000] sleep count instance = 10 count = 3",
                  "[6.000] Instance: 10 count: 4"));
  EXPECT_THAT(r.err, HasSubstr("[7.000] Traceback (most recent call last):\n"));
  EXPECT_THAT(r.err, HasSubstr("\nTimeoutError\n"));
  EXPECT_EQ(r.exit_code, 1);
}

// §19.5: return_exceptions puts each child's exception in its argument slot.
TEST(SeedExamples, GatherReturnsCancelledValueAndTimeoutInArgumentOrder) {
  const Outcome r = run_timed(EXAMPLE_GATHER);
  EXPECT_THAT(r.out, ElementsAre("[0.000] Start cancellable bar()", "[0.000] Start barking",
                                 "[0.000] Start timeout coro foo()", "[5.000] About to cancel bar",
                                 "[6.000] Done barking.",
                                 "[7.000] Result:  [CancelledError(), 42, TimeoutError()]"));
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.exit_code, 0);
}

// §4.8, where C++ goes beyond MicroPython: after a nested run returns (or raises), the outer
// task is the current task again and awaits as usual; other tasks ran during the nested run.
TEST(SeedExamples, OuterTaskKeepsWorkingAfterNestedRun) {
  const Outcome r = run_timed(EXAMPLE_NESTED_RUN);
  EXPECT_THAT(
      r.out,
      ElementsAre("[0.000] Inner: start; current_task() is main: False", "[1.000] Tick 1",
                  "[1.500] Inner: done", "[1.500] Outer: nested run returned 42",
                  "[1.500] Outer: current_task() is main: True", "[2.000] Tick 2",
                  "[2.500] Outer: awaited again; current_task() is main: True", "[3.000] Tick 3",
                  "[3.000] Outer: ticker finished",
                  "[3.500] Outer: nested run raised TimeoutError: True",
                  "[4.500] Outer: done; current_task() is main: True", "[4.500] run() returned 7"));
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.exit_code, 0);
}
