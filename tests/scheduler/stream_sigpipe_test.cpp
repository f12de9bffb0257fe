// Writing to a peer that is gone raises BrokenPipeError (or ConnectionResetError) and never kills
// the process with SIGPIPE, whatever the process's SIGPIPE disposition is, and the library leaves
// that disposition alone (it used to set SIGPIPE to SIG_IGN for the whole process). Sockets are
// written with MSG_NOSIGNAL; pipes and libuv's queued writes with SIGPIPE blocked in the writing
// thread.
#include <gtest/gtest.h>
#include <signal.h>
#include <uasyncio/uasyncio.hpp>

#include <cstdlib>
#include <string>
#include <vector>

#include "loop_fixture.hpp"

namespace ua = uasyncio;

namespace {

class Sigpipe : public LoopTest {
 protected:
  void SetUp() override {
    LoopTest::SetUp();
    ua::get_event_loop().set_virtual_clock(false);
    GTEST_FLAG_SET(death_test_style, "threadsafe");
  }
};

void (*sigpipe_handler())(int) {
  struct sigaction now {};
  sigaction(SIGPIPE, nullptr, &now);
  return now.sa_handler;
}

void default_sigpipe() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGPIPE, &dfl, nullptr);
}

// Reads one line, then closes its end (FIN): our next write draws a reset, and any write after
// that fails with EPIPE, which is where the kernel sends SIGPIPE.
ua::Coro<void> close_after_a_line(ua::StreamReader r, ua::StreamWriter w) {
  co_await r.readline();
  w.close();
  co_await w.wait_closed();
}

// Writes `chunk` until the write fails; gives the exception's class. With `default_disposition`
// SIGPIPE is put back to SIG_DFL first, whatever the library did when it started.
ua::Coro<std::string> write_until_it_fails(std::size_t chunk, bool default_disposition) {
  ua::Server server = co_await ua::start_server(close_after_a_line, "127.0.0.1", 0);
  auto [r, w] = co_await ua::open_connection("127.0.0.1", server.port());
  w.write("hi\n");
  co_await w.drain();
  co_await ua::sleep_ms(20);  // the peer's FIN arrives
  if (default_disposition) default_sigpipe();
  std::string raised = "nothing";
  const std::string data(chunk, 'x');
  try {
    for (int i = 0; i < 1000; ++i) {
      w.write(data);
      co_await w.drain();
      co_await ua::sleep_ms(1);
    }
  } catch (const ua::BrokenPipeError&) {
    raised = "BrokenPipeError";
  } catch (const ua::ConnectionResetError&) {
    raised = "ConnectionResetError";
  }
  w.abort();
  server.close();
  co_await server.wait_closed();
  co_return raised;
}

// A child that exits at once, whose stdin pipe we then write to.
ua::Coro<std::string> write_to_a_dead_childs_stdin() {
  ua::SubprocessOptions o;
  o.stdin_mode = ua::Stdio::pipe;
  std::vector<std::string> argv{"true"};
  ua::Process p = co_await ua::create_subprocess_exec(argv, o);
  co_await p.wait();
  default_sigpipe();
  std::string raised = "nothing";
  const std::string data(1 << 20, 'x');
  try {
    for (int i = 0; i < 10; ++i) {
      p.stdin_stream().write(data);
      co_await p.stdin_stream().drain();
    }
  } catch (const ua::BrokenPipeError&) {
    raised = "BrokenPipeError";
  }
  co_return raised;
}

void expect_raised(const std::string& raised) {
  if (raised != "BrokenPipeError" && raised != "ConnectionResetError") std::exit(2);
  std::exit(0);
}

}  // namespace

TEST_F(Sigpipe, TheProcessDispositionIsLeftAlone) {
  auto* const before = sigpipe_handler();
  ua::run(write_until_it_fails(16, false));
  EXPECT_EQ(sigpipe_handler(), before);
}

// Small writes: each one goes straight to the socket.
TEST_F(Sigpipe, AnImmediateSocketWriteRaisesInsteadOfKilling) {
  EXPECT_EXIT(expect_raised(ua::run(write_until_it_fails(16, true))), testing::ExitedWithCode(0),
              "");
}

// Writes bigger than the socket takes: the rest is sent later by the loop.
TEST_F(Sigpipe, AQueuedSocketWriteRaisesInsteadOfKilling) {
  EXPECT_EXIT(expect_raised(ua::run(write_until_it_fails(8 << 20, true))),
              testing::ExitedWithCode(0), "");
}

TEST_F(Sigpipe, APipeWriteRaisesInsteadOfKilling) {
  EXPECT_EXIT(expect_raised(ua::run(write_to_a_dead_childs_stdin())), testing::ExitedWithCode(0),
              "");
}
