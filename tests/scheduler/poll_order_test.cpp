// §4.3, §13.2: MicroPython polls for I/O (and thread-safe flags) before every step, so what a
// step makes ready (a flag it sets, a socket it writes to) wakes its waiter at the poll right
// after that step: behind the tasks already queued, ahead of anything queued later. The library
// used to poll only when nothing was runnable or every 1024 steps, so the waiter woke up many
// steps late and the order of prints differed. (The cross-thread case is in
// thread_safe_flag_threaded_test.cpp.)
#include <gtest/gtest.h>
#include <uasyncio/uasyncio.hpp>

#include <string>
#include <vector>

#include "recorder.hpp"

namespace ua = uasyncio;

namespace {

ua::Coro<void> ticker(std::string name, int n) {
  for (int i = 0; i < n; ++i) {
    say(name + std::to_string(i));
    co_await ua::sleep(0);
  }
}

ua::Coro<void> flag_waiter(ua::ThreadSafeFlag& flag) {
  co_await flag.wait();
  say("W woken");
}

ua::Coro<void> set_flag_among_ready_tasks() {
  ua::ThreadSafeFlag flag;
  ua::Task<void> w = ua::create_task(flag_waiter(flag));
  co_await ua::sleep(0);  // W waits on the flag
  ua::Task<void> b = ua::create_task(ticker("B", 3));
  ua::Task<void> c = ua::create_task(ticker("C", 3));
  flag.set();
  say("main set");
  co_await ua::sleep(0);
  say("main after");
  co_await w;
  co_await b;
  co_await c;
}

using PollOrder = Recorder;

}  // namespace

// MicroPython: after main's step the queue is [B, C, main]; the poll finds the flag and adds W.
TEST_F(PollOrder, AFlagSetOnTheLoopWakesItsWaiterAtTheNextPoll) {
  ua::run(set_flag_among_ready_tasks());
  EXPECT_EQ(lines_,
            (Lines{"main set", "B0", "C0", "main after", "W woken", "B1", "C1", "B2", "C2"}));
}

namespace {

ua::Coro<void> serve_one_read(ua::StreamReader r, ua::StreamWriter w) {
  std::string got = co_await r.read(100);
  say("R got " + got);
  co_await w.wait_closed();
}

ua::Coro<void> write_among_ready_tasks() {
  ua::Server server = co_await ua::start_server(serve_one_read, "127.0.0.1", 0);
  auto [r, w] = co_await ua::open_connection("127.0.0.1", server.port());
  for (int i = 0; i < 5; ++i)
    co_await ua::sleep_ms(1);  // the handler is parked in its read
  ua::Task<void> t = ua::create_task(ticker("T", 6));
  w.write("x");  // loopback: readable at the peer as the write returns
  say("main wrote");
  co_await t;
  co_await w.wait_closed();
  server.close();
  co_await server.wait_closed();
}

}  // namespace

// The handler's socket is readable once main's step wrote to it; the poll after that step queues
// the handler behind T (queued before), so it reads before T's second tick.
TEST_F(PollOrder, ASocketMadeReadableByAStepWakesItsReaderAtTheNextPoll) {
  ua::get_event_loop().set_virtual_clock(false);
  ua::run(write_among_ready_tasks());
  ASSERT_GE(lines_.size(), 3u);
  EXPECT_EQ(lines_[0], "main wrote");
  EXPECT_EQ(lines_[1], "T0");
  EXPECT_EQ(lines_[2], "R got x");
}
