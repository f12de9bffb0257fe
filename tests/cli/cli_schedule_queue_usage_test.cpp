// The schedule and queue commands, and --queue, refuse bad flags and arguments before they talk to
// the daemon: exit 2 with a message that names the flag. The daemon's address is a port where
// nothing listens, so a command that got as far as connecting would exit 3 instead.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <fstream>
#include <string>
#include <vector>

#include "client_process.hpp"
#include "temp_dir.hpp"

namespace {

// A loopback port that was free a moment ago; nothing listens there.
int unused_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

class CliScheduleQueueUsage : public ::testing::Test {
 protected:
  std::string spec_file(const std::string& name, const std::string& text) {
    const std::string path = dir_ / name;
    std::ofstream(path) << text;
    return path;
  }

  // Expects `args` to be refused as a usage error whose message holds `why`.
  void expect_refused(std::vector<std::string> args, const std::string& why,
                      const std::string& stdin_text = "") {
    std::string shown;
    for (const std::string& a : args)
      shown += " " + a;
    ClientProcess::Options options;
    options.env.push_back("UASYNCD_URL=http://127.0.0.1:" + std::to_string(port_));
    options.stdin_text = stdin_text;
    const ClientResult r = run_client(std::move(args), options);
    EXPECT_EQ(r.code, 2) << shown << ": " << r.err;
    EXPECT_NE(r.err.find(why), std::string::npos) << shown << ": " << r.err;
    EXPECT_EQ(r.out, "") << shown;
  }

  TempDir dir_;
  int port_ = unused_port();
};

TEST_F(CliScheduleQueueUsage, ScheduleAddNeedsExactlyOneOfCronAndEvery) {
  const std::string spec = spec_file("v.json", R"({"value": 1})");
  expect_refused({"schedule", "add", "n", "--cron", "* * * * *", "--every", "5", spec},
                 "--cron excludes --every");
  expect_refused({"schedule", "add", "n", spec}, "give --cron EXPR or --every SECONDS");
  expect_refused({"schedule", "add", "n", "--timezone", "Europe/Berlin", "--every", "5", spec},
                 "--timezone requires --cron");
}

TEST_F(CliScheduleQueueUsage, ScheduleAddChecksEveryOverlapAndCatchUp) {
  const std::string spec = spec_file("v.json", R"({"value": 1})");
  for (const char* every : {"-5", "0", "inf", "nan", "soon"}) {
    expect_refused({"schedule", "add", "n", "--every", every, spec},
                   "--every: expected a number of seconds, more than 0");
  }
  expect_refused({"schedule", "add", "n", "--every", "5", "--overlap", "never", spec},
                 "--overlap: never not in {skip,allow,queue}");
  expect_refused({"schedule", "add", "n", "--every", "5", "--catch-up", "all", spec},
                 "--catch-up: all not in {none,one}");
}

TEST_F(CliScheduleQueueUsage, ScheduleAddTakesOneSpecObject) {
  expect_refused({"schedule", "add", "n", "--every", "5",
                  spec_file("two.json", R"([{"value": 1}, {"value": 2}])")},
                 "a schedule takes one spec; 2 were given");
  expect_refused({"schedule", "add", "n", "--every", "5", "-"},
                 "a schedule takes one spec; 2 were given", "{\"value\": 1}\n{\"value\": 2}\n");
  expect_refused({"schedule", "add", "n", "--every", "5", spec_file("n.json", "42")},
                 "a spec must be a JSON object");
  expect_refused({"schedule", "add", "n", "--every", "5", spec_file("bad.json", "{\"value\": ")},
                 "bad.json: not JSON");
  expect_refused({"schedule", "add", "n", "--every", "5", dir_ / "nope.json"},
                 "nope.json: No such file or directory");
}

TEST_F(CliScheduleQueueUsage, NamesAreCheckedAsTheDaemonChecksThem) {
  const std::string spec = spec_file("v.json", R"({"value": 1})");
  const std::string why = "1 to 128 characters of A-Z a-z 0-9 . _ -";
  expect_refused({"schedule", "add", "a b", "--every", "5", spec}, "schedule name \"a b\": " + why);
  expect_refused({"schedule", "add", std::string(129, 'x'), "--every", "5", spec}, why);
  expect_refused({"schedule", "show", "../queues"}, why);
  expect_refused({"schedule", "rm", "ok", "not/ok"}, why);
  expect_refused({"schedule", "pause", ""}, why);
  expect_refused({"schedule", "resume", "é"}, why);
  expect_refused({"schedule", "trigger", "a?b"}, why);
  expect_refused({"queue", "set", "a b", "--pause"}, "queue name \"a b\": " + why);
  expect_refused({"submit", "--queue", "a b", spec}, "--queue: queue name \"a b\": " + why);
  expect_refused({"run", "--queue", "", "--", "true"}, "--queue: queue name \"\": " + why);
}

TEST_F(CliScheduleQueueUsage, QueueSetNeedsSomethingToSetAndOnePauseOrResume) {
  expect_refused({"queue", "set", "build"}, "give --max-running N, --pause or --resume");
  expect_refused({"queue", "set", "build", "--pause", "--resume"}, "--pause excludes --resume");
  for (const char* n : {"-1", "1000001", "two"}) {
    expect_refused({"queue", "set", "build", "--max-running", n}, "--max-running");
  }
}

TEST_F(CliScheduleQueueUsage, AGroupNeedsOneOfItsCommands) {
  expect_refused({"schedule"}, "A subcommand is required");
  expect_refused({"queue"}, "A subcommand is required");
  expect_refused({"schedule", "show"}, "name is required");
  expect_refused({"schedule", "rm"}, "names is required");
  expect_refused({"schedule", "every"}, "A subcommand is required");
  expect_refused({"queue", "ls", "extra"}, "extra");
}

}  // namespace
