// The shared state behind Stream handles (library-internal).
//
// Lifetime: the core lives while any Stream handle refers to it AND while its libuv handle is
// open. libuv runs every request's callback (writes, connect, shutdown: with UV_ECANCELED if
// need be) before the handle's close callback, so those callbacks may always use the core.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "uasyncio/detail/wait_list.hpp"
#include "uasyncio/loop.hpp"

namespace uasyncio::detail {

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
  StreamCore(Loop& l, uv_stream_t* h, void (*free)(uv_handle_t*)) noexcept
      : loop(&l), handle(h), free_handle(free) {
    h->data = this;
  }

  // False when no read can bring data any more (error or EOF seen, or closing); otherwise
  // starts reading if it is paused. A reader waits while rbuf is empty and this is true.
  bool need_data();
  void ensure_reading();
  void stop_reading();
  void consume(std::size_t n);
  void close();
  void abort();
  void release();

  Loop* loop;
  uv_stream_t* handle;
  void (*free_handle)(uv_handle_t*);
  std::uint32_t refs = 0;
  bool handle_open = true;
  bool closing = false;       // close() or abort() was called
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
