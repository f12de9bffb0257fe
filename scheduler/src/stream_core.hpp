// The shared state behind Stream handles, and the I/O wait every stream, server and name
// resolution uses (library-internal).
//
// Lifetime: the core lives while any Stream handle refers to it AND while its libuv handle is
// open. libuv runs every request's callback (writes, connect, shutdown: with UV_ECANCELED if
// need be) before the handle's close callback, so those callbacks may always use the core.
#pragma once

#include <uv.h>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "uasyncio/detail/parking.hpp"
#include "uasyncio/detail/scheduler.hpp"
#include "uasyncio/detail/wait_list.hpp"

namespace uasyncio::detail {

// A task waiting for a libuv callback about a socket, pipe or name: MicroPython polls for such
// waits before every step, and so does the scheduler while one is parked (§4.3). A wake only
// means "look again": the caller re-checks its condition.
class IoWait : public Parking<> {
 public:
  explicit IoWait(WaitList& list) noexcept : list_(list) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) { park(list_, h, ParkKind::io); }
  void await_resume() { raise_if_cancelled(); }

 private:
  WaitList& list_;
};

// Received bytes not yet consumed: appended at the back, consumed from the front.
class ByteBuffer {
 public:
  std::size_t size() const noexcept { return bytes_.size() - head_; }
  bool empty() const noexcept { return size() == 0; }
  const char* data() const noexcept { return bytes_.data() + head_; }
  void append(const char* p, std::size_t n);
  void consume(std::size_t n);

 private:
  std::vector<char> bytes_;
  std::size_t head_ = 0;
};

struct StreamCore {
  StreamCore(Scheduler& s, uv_stream_t* h, void (*free)(uv_handle_t*)) noexcept;

  // False when no read can bring data any more (error or EOF seen, or closing); otherwise
  // starts reading if it is paused. A reader waits while rbuf is empty and this is true.
  bool need_data();
  void ensure_reading();
  void stop_reading();
  void consume(std::size_t n);
  // Closes the handle once the data already queued is sent (wait_closed, the last handle).
  void start_close();
  void abort();
  // Writes what the kernel takes now, without ever raising SIGPIPE: the byte count, or a libuv
  // error code (UV_EAGAIN when nothing fit).
  int write_now(const char* p, std::size_t n);
  // write_pending went from 0 to n or back: the scheduler blocks SIGPIPE while libuv writes.
  void set_write_pending(std::size_t n) noexcept;
  static void on_closed(StreamCore* c);

  Scheduler* scheduler;
  uv_stream_t* handle;
  void (*free_handle)(uv_handle_t*);
  std::uint32_t refs = 0;
  bool is_socket = false;  // written with send(MSG_NOSIGNAL); otherwise a pipe or a tty
  bool handle_open = true;
  bool close_called = false;  // close() was called (MicroPython: a no-op; is_closing() says so)
  bool closing = false;       // wait_closed(), abort() or the last handle started the close
  bool close_issued = false;  // uv_close was called
  bool read_started = false;  // a read asked for data once: keep the pipe flowing from then on
  bool reading = false;       // uv_read_start is in effect
  bool eof = false;
  int read_error = 0;      // libuv error code that ended reading
  int write_error = 0;     // libuv error code of the first failed write
  int connect_status = 1;  // 1 while a connect is in flight
  ByteBuffer rbuf;
  std::size_t read_limit = 64 * 1024;
  std::size_t write_pending = 0;
  std::size_t high_water = 64 * 1024;
  std::size_t low_water = 16 * 1024;
  WaitList readers;  // tasks waiting for data
  WaitList writers;  // tasks waiting in drain() or for the connect
  WaitList closers;  // tasks in wait_closed()
  uv_connect_t connect_req{};
  uv_shutdown_t shutdown_req{};
};

}  // namespace uasyncio::detail
