// Descriptors that libuv closed, taken over by another thread. libuv closes with a raw close
// system call, which ThreadSanitizer does not see: unless uasyncio tells it of the close, it
// takes the thread that gets the same number next for one racing with the thread that opened
// it, and stops the program. This is what stopped the daemon under TSan (exit 66, its tasks
// never finished, its clients' connections closed) when an HTTP connection was accepted on the
// number of an exec step's closed output pipe. This program runs under ThreadSanitizer; its two
// threads share nothing but relaxed atomics, so nothing else orders the close before the reuse.
#include <gtest/gtest.h>
#include <uv.h>
#include <uasyncio/uasyncio.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

namespace ua = uasyncio;

namespace {

using Clock = std::chrono::steady_clock;
// Only a guard against a hang: the other side answers within microseconds.
constexpr std::chrono::seconds kGuard{10};

// Relaxed on purpose: a happens-before edge here would hide the missing one.
void await_set(const std::atomic<int>& value) {
  const auto deadline = Clock::now() + kGuard;
  while (value.load(std::memory_order_relaxed) < 0 && Clock::now() < deadline)
    std::this_thread::yield();
}

// A thread, started before the descriptor to reuse exists (so its start orders nothing after
// it), that opens one as soon as it is told a number is free.
class OtherThread {
 public:
  OtherThread()
      : thread_([this] {
          await_set(freed_);
          opened_.store(::open("/dev/null", O_RDONLY | O_CLOEXEC), std::memory_order_relaxed);
        }) {}
  ~OtherThread() {
    freed_.store(0, std::memory_order_relaxed);  // lets it end if the test gave up early
    thread_.join();
    if (opened_.load() >= 0) ::close(opened_.load());
  }
  // Tells it `fd` was closed; gives the number it then opened (the lowest free one: `fd`, or the
  // test shows nothing).
  int reuse(int fd) {
    freed_.store(fd, std::memory_order_relaxed);
    await_set(opened_);
    return opened_.load(std::memory_order_relaxed);
  }

 private:
  std::atomic<int> freed_{-1};
  std::atomic<int> opened_{-1};
  std::thread thread_;
};

// Closes a stream on `fd`, then has the other thread open its descriptor while this loop (and
// every descriptor of its own) still lives.
ua::Coro<int> close_then_reuse(int fd, OtherThread& other) {
  auto handle = std::make_unique<uv_pipe_t>();
  uv_pipe_init(ua::get_event_loop().uv_loop(), handle.get(), 0);
  ua::Stream stream = ua::Stream::adopt(std::move(handle));
  EXPECT_EQ(uv_pipe_open(reinterpret_cast<uv_pipe_t*>(stream.uv_stream()), fd), 0);
  co_await stream.wait_closed();
  co_return other.reuse(fd);
}

TEST(ClosedStreamDescriptor, ReusedByAnotherThreadIsNoRace) {
  OtherThread other;
  int fds[2] = {-1, -1};
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0) << std::strerror(errno);
  // The write end goes first (a close TSan sees), as the daemon closes its end of an exec step's
  // pipe once it has passed it to the supervisor: the read end is then the last holder of what
  // TSan keeps for the pipe, which the reuse frees.
  ::close(fds[1]);
  EXPECT_EQ(ua::run(close_then_reuse(fds[0], other)), fds[0]);
}

TEST(ClosedLoopDescriptor, ReusedByAnotherThreadIsNoRace) {
  OtherThread other;
  int epoll_fd = -1;
  {
    ua::Loop loop;
    epoll_fd = uv_backend_fd(loop.uv_loop());
  }
  ASSERT_GT(epoll_fd, 2);
  EXPECT_EQ(other.reuse(epoll_fd), epoll_fd);
}

}  // namespace
