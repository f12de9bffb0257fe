// Nothing the supervisor started outlives its daemon: the client closed, the daemon process
// killed with SIGKILL, the supervisor killed, a keeper killed. Each case starts commands with
// grandchildren, including ones that left the command's process group and session.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec_test_support.hpp"

using namespace exec_test;

namespace {

// Prints the pids of: a background sleep in the group, one in its own session, one
// double-forked into its own session; then waits.
constexpr const char* kTree =
    "sleep 1000 & echo $!; setsid sh -c 'echo $$; exec sleep 1000' & "
    "(setsid sleep 1000 & echo $!); wait";

// Spawns kTree `copies` times and gives every pid it printed, the commands' included.
ua::Coro<std::vector<pid_t>> start_trees(ux::SupervisorClient* client, int copies,
                                         std::vector<ux::ExecProcess>* keep) {
  std::vector<pid_t> pids;
  for (int i = 0; i < copies; ++i) {
    keep->push_back(co_await client->spawn(shell(kTree)));
    ux::ExecProcess& p = keep->back();
    pids.push_back(p.pid());
    for (int line = 0; line < 3; ++line)
      pids.push_back(std::stoi(co_await p.stdout_stream().readline()));
  }
  co_return pids;
}

void expect_all_gone(const std::vector<pid_t>& pids, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (pid_t pid : pids) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    EXPECT_TRUE(gone_within(pid, std::max(left, 0ms))) << pid << " outlived the limit";
  }
}

}  // namespace

TEST_F(SupervisorTest, DestroyingTheClientKillsEveryProcessBelowBeforeItReturns) {
  std::vector<ux::ExecProcess> keep;
  const std::vector<pid_t> pids = ua::run(start_trees(client_.get(), 3, &keep));
  ASSERT_EQ(pids.size(), 12u);
  for (pid_t pid : pids)
    ASSERT_TRUE(running(pid)) << pid;
  const pid_t supervisor = client_->supervisor_pid();
  client_.reset();  // waits for the supervisor, which kills and reaps everything first
  for (pid_t pid : pids)
    EXPECT_FALSE(running(pid)) << pid;
  EXPECT_FALSE(running(supervisor));
  keep.clear();  // handles outliving their client are harmless
}

// The daemon's case: a process holding the client dies by SIGKILL, with no chance to clean up.
TEST(SupervisorOwnerDeath, Kill9OfTheOwnerKillsEverythingWithinTwoSeconds) {
  int report[2];
  ASSERT_EQ(::pipe(report), 0);
  const pid_t owner = ::fork();
  ASSERT_GE(owner, 0);
  if (owner == 0) {
    // The owner: a loop and a client, like the daemon's loop thread; reports what it started.
    ::close(report[0]);
    ua::new_event_loop().set_virtual_clock(false);
    auto* client = new ux::SupervisorClient({SUPERVISOR_HOST, -1, 64});
    auto body = [&]() -> ua::Coro<void> {
      std::vector<ux::ExecProcess> keep;
      std::vector<pid_t> pids = co_await start_trees(client, 4, &keep);
      pids.push_back(client->supervisor_pid());
      std::string text;
      for (pid_t p : pids)
        text += std::to_string(p) + "\n";
      (void)!::write(report[1], text.data(), text.size());
      ::close(report[1]);
      co_await ua::sleep(1000);
    };
    ua::run(body());
    ::_exit(0);
  }
  ::close(report[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(report[0], buf, sizeof buf)) > 0;)
    text.append(buf, static_cast<std::size_t>(n));
  ::close(report[0]);
  const std::vector<pid_t> pids = numbers_in(text);
  ASSERT_EQ(pids.size(), 4u * 4 + 1) << text;
  for (pid_t pid : pids)
    ASSERT_TRUE(running(pid)) << pid;

  ::kill(owner, SIGKILL);
  ::waitpid(owner, nullptr, 0);
  const auto t0 = std::chrono::steady_clock::now();
  expect_all_gone(pids, 2s);
  std::printf("all %zu processes gone %lld ms after the owner's SIGKILL\n", pids.size(),
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - t0)
                                         .count()));
}

TEST_F(SupervisorTest, Kill9OfTheSupervisorKillsItsStepsAndTheNextSpawnStartsAnother) {
  auto body = [&]() -> ua::Coro<void> {
    std::vector<ux::ExecProcess> keep;
    const std::vector<pid_t> pids = co_await start_trees(client_.get(), 2, &keep);
    const pid_t first = client_->supervisor_pid();
    ::kill(first, SIGKILL);
    // Its keepers kill their steps (PR_SET_PDEATHSIG); the handles end as killed.
    for (ux::ExecProcess& p : keep)
      EXPECT_EQ(co_await p.wait(), -SIGKILL);
    expect_all_gone(pids, 2s);
    Finished f = co_await run_to_end(client_.get(), shell("echo again"));
    EXPECT_EQ(f.out, "again\n");
    EXPECT_NE(client_->supervisor_pid(), first);
    EXPECT_GT(client_->supervisor_pid(), 0);
  };
  ua::run(body());
}

TEST_F(SupervisorTest, Kill9OfAKeeperEndsItsStepAndTheSupervisorSweepsTheOrphans) {
  auto body = [&]() -> ua::Coro<void> {
    std::vector<ux::ExecProcess> keep;
    const std::vector<pid_t> pids = co_await start_trees(client_.get(), 2, &keep);
    const pid_t keeper = parent_of(keep[0].pid());
    EXPECT_EQ(parent_of(keeper), client_->supervisor_pid());
    ::kill(keeper, SIGKILL);
    EXPECT_EQ(co_await keep[0].wait(), -SIGKILL);
    expect_all_gone({pids.begin(), pids.begin() + 4}, 2s);
    for (auto it = pids.begin() + 4; it != pids.end(); ++it)  // the other step runs on
      EXPECT_TRUE(running(*it)) << *it;
    EXPECT_TRUE(keep[1].kill());
    EXPECT_EQ(co_await keep[1].wait(), -SIGKILL);
    expect_all_gone({pids.begin() + 4, pids.end()}, 2s);
  };
  ua::run(body());
}

TEST_F(SupervisorTest, SigtermToTheSupervisorStopsEveryStep) {
  auto body = [&]() -> ua::Coro<void> {
    std::vector<ux::ExecProcess> keep;
    const std::vector<pid_t> pids = co_await start_trees(client_.get(), 2, &keep);
    ::kill(client_->supervisor_pid(), SIGTERM);
    for (ux::ExecProcess& p : keep)
      EXPECT_EQ(co_await p.wait(), -SIGKILL);
    expect_all_gone(pids, 2s);
  };
  ua::run(body());
}

TEST_F(SupervisorTest, SigintFromATerminalIsTheDaemonsToHandle) {
  auto body = [&]() -> ua::Coro<void> {
    ux::ExecProcess p = co_await client_->spawn(command("sleep", "100"));
    const pid_t supervisor = client_->supervisor_pid();
    ::kill(supervisor, SIGINT);
    ::kill(parent_of(p.pid()), SIGINT);  // the keeper
    co_await ua::sleep_ms(100);
    EXPECT_TRUE(running(supervisor));
    EXPECT_TRUE(running(p.pid()));
    EXPECT_TRUE(p.kill());
    EXPECT_EQ(co_await p.wait(), -SIGKILL);
  };
  ua::run(body());
}
