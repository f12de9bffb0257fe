// The exec lock of a data directory: free at once, released by a previous run's processes as
// they finish, taken from holders that linger (SIGTERM, then SIGKILL), and held by a real
// supervisor and its keepers for as long as any of them lives.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "exec_test_support.hpp"
#include "uasyncd/exec/exec_lock.hpp"

using namespace exec_test;

namespace {

class ExecLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/uasyncd-exec-lock-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/exec.lock";
  }
  void TearDown() override {
    for (pid_t pid : forked_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    std::filesystem::remove_all(dir_);
  }

  // A process of "a previous run" holding the lock: it exits after `exit_after_ms` (< 0:
  // never), on SIGTERM unless it ignores it.
  pid_t holder(int exit_after_ms, bool ignore_sigterm) {
    int ready[2];
    EXPECT_EQ(::pipe(ready), 0);
    const pid_t pid = ::fork();
    if (pid == 0) {
      if (ignore_sigterm) ::signal(SIGTERM, SIG_IGN);
      const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT, 0600);
      if (fd < 0 || ::flock(fd, LOCK_EX) != 0) ::_exit(1);
      (void)!::write(ready[1], "x", 1);
      if (exit_after_ms >= 0) {
        ::usleep(static_cast<useconds_t>(exit_after_ms) * 1000);
        ::_exit(0);
      }
      for (;;)
        ::pause();
    }
    char c;
    ::close(ready[1]);
    EXPECT_EQ(::read(ready[0], &c, 1), 1);
    ::close(ready[0]);
    forked_.push_back(pid);
    return pid;
  }

  static bool reaped_within(pid_t pid, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (::waitpid(pid, nullptr, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(1ms);
    }
    return true;
  }

  const ux::ReclaimLimits quick{300ms, 300ms, 300ms};
  std::string dir_;
  std::string path_;
  std::vector<pid_t> forked_;
};

}  // namespace

TEST_F(ExecLockTest, AFreeLockIsTakenAtOnceAndCreatedPrivate) {
  std::vector<std::string> warnings;
  const auto t0 = std::chrono::steady_clock::now();
  ux::ExecLock lock =
      ux::ExecLock::acquire(path_, quick, [&](const std::string& w) { warnings.push_back(w); });
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 250ms);
  EXPECT_TRUE(warnings.empty());
  EXPECT_GE(lock.fd(), 0);
  EXPECT_EQ(std::filesystem::status(path_).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST_F(ExecLockTest, APreviousRunFinishingItsSweepIsWaitedFor) {
  const pid_t old = holder(100, true);
  std::vector<std::string> warnings;
  ux::ExecLock lock =
      ux::ExecLock::acquire(path_, quick, [&](const std::string& w) { warnings.push_back(w); });
  EXPECT_TRUE(warnings.empty()) << warnings.front();  // no signal was needed
  EXPECT_TRUE(reaped_within(old, 1s));
}

TEST_F(ExecLockTest, ALingeringHolderGetsSigterm) {
  const pid_t old = holder(-1, false);
  std::vector<std::string> warnings;
  ux::ExecLock lock =
      ux::ExecLock::acquire(path_, quick, [&](const std::string& w) { warnings.push_back(w); });
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find(std::to_string(old)), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("SIGTERM"), std::string::npos) << warnings[0];
  EXPECT_TRUE(reaped_within(old, 1s));
}

TEST_F(ExecLockTest, AHolderIgnoringSigtermGetsSigkill) {
  const pid_t old = holder(-1, true);
  std::vector<std::string> warnings;
  ux::ExecLock lock =
      ux::ExecLock::acquire(path_, quick, [&](const std::string& w) { warnings.push_back(w); });
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[1].find("SIGKILL"), std::string::npos) << warnings[1];
  int status = 0;
  ASSERT_EQ(::waitpid(old, &status, 0), old);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

TEST_F(ExecLockTest, OnlyHoldersAreSignalledNotProcessesThatJustOpenedTheFile) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t reader = ::fork();
  if (reader == 0) {
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CREAT, 0600);  // `tail -f exec.lock`
    if (fd < 0) ::_exit(1);
    (void)!::write(ready[1], "x", 1);
    for (;;)
      ::pause();
  }
  forked_.push_back(reader);
  char c;
  ::close(ready[1]);
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  const pid_t a = holder(-1, false);
  EXPECT_EQ(ux::processes_holding(path_), std::vector<pid_t>{a});
  ux::ExecLock lock = ux::ExecLock::acquire(path_, quick);
  EXPECT_TRUE(reaped_within(a, 1s));
  EXPECT_TRUE(running(reader));
}

// The supervisor and its keepers inherit the lock: it stays held after the daemon's own copy
// is closed, for as long as a step may run, and reclaiming it stops them.
TEST_F(ExecLockTest, ASupervisorAndItsKeepersHoldTheLockUntilStopped) {
  ua::new_event_loop().set_virtual_clock(false);
  auto lock = std::make_unique<ux::ExecLock>(ux::ExecLock::acquire(path_, quick));
  ux::SupervisorClient client({SUPERVISOR_HOST, lock->fd(), 64});
  auto body = [&]() -> ua::Coro<void> {
    ux::ExecProcess p = co_await client.spawn(command("sleep", "1000"));
    const pid_t sleeper = p.pid();
    const pid_t supervisor = client.supervisor_pid();
    // The lock file tells who the supervisor is.
    std::ifstream pid_file(path_);
    pid_t written = 0;
    pid_file >> written;
    EXPECT_EQ(written, supervisor);
    lock.reset();  // the "daemon's" copy: still held by the supervisor and the keeper
    std::vector<pid_t> holders = ux::processes_holding(path_);
    std::sort(holders.begin(), holders.end());
    std::vector<pid_t> expected{supervisor, parent_of(sleeper)};
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(holders, expected);
    // A second "daemon" finds it held, SIGTERMs the holders: the step dies with them.
    std::vector<std::string> warnings;
    ux::ExecLock second =
        ux::ExecLock::acquire(path_, quick, [&](const std::string& w) { warnings.push_back(w); });
    EXPECT_EQ(warnings.size(), 1u);
    EXPECT_FALSE(running(sleeper));
    EXPECT_TRUE(gone_within(supervisor, 1s));
    EXPECT_EQ(co_await p.wait(), -SIGKILL);
  };
  ua::run(body());
  ua::new_event_loop();
}
