// Streams (§15): MicroPython's asyncio.Stream, a byte stream over any libuv stream handle, TCP
// connections first.
//
//   auto [reader, writer] = co_await ua::open_connection("127.0.0.1", 8080);
//   writer.write("ping\n");
//   co_await writer.drain();
//   std::string line = co_await reader.readline();
//   writer.close();                 // MicroPython: does nothing by itself...
//   co_await writer.wait_closed();  // ...the connection closes here (§15.2)
//
// As in MicroPython, StreamReader and StreamWriter are the same class and open_connection hands
// out the same stream twice: `reader` and `writer` are two handles sharing one connection.
// As in MicroPython, close() is a no-op and wait_closed() closes (the peer sees EOF then, not
// at close()); data already queued is still sent first.
//
// Memory stays bounded in both directions: reading stops while `read_limit` bytes wait unread
// (and resumes once the task consumes them), and drain() blocks while more than the high-water
// mark is queued for sending, so a peer that does not read cannot make us buffer without end.
// Writing to a peer that has gone raises BrokenPipeError (or ConnectionResetError): the library
// never lets SIGPIPE reach the process and never changes its disposition.
//
// Lifetime: handles are cheap to copy and share the connection; when the last handle goes
// without wait_closed(), the connection is closed then (unsent data is still sent). A stream
// belongs to the loop it was made on.
// Thread rules: on the loop's thread only.
#pragma once

#include <uv.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "uasyncio/coro.hpp"
#include "uasyncio/detail/intrusive_ptr.hpp"
#include "uasyncio/errors.hpp"
#include "uasyncio/os_error.hpp"

namespace uasyncio {

// A socket address as Python shows it: ("127.0.0.1", 8080).
struct Address {
  std::string host;
  int port = 0;
  friend bool operator==(const Address&, const Address&) = default;
};

// readexactly() met EOF first (CPython's IncompleteReadError; an EOFError as in MicroPython).
class IncompleteReadError : public EOFError {
 public:
  IncompleteReadError(std::string partial, std::size_t expected);
  // The bytes that did arrive before EOF.
  const std::string& partial() const noexcept { return partial_; }
  std::size_t expected() const noexcept { return expected_; }

 private:
  std::string partial_;
  std::size_t expected_;
};

namespace detail {
struct StreamCore;
void intrusive_add_ref(StreamCore* c) noexcept;
void intrusive_release(StreamCore* c) noexcept;
}  // namespace detail

class Stream {
 public:
  static constexpr std::size_t kDefaultReadLimit = 64 * 1024;
  static constexpr std::size_t kDefaultHighWater = 64 * 1024;

  // An empty handle (no stream).
  Stream() noexcept = default;

  // Takes ownership of an initialised libuv stream handle on the current loop: a uv_tcp_t,
  // uv_pipe_t or uv_tty_t made with std::make_unique and uv_*_init (connected or not yet: a
  // uv_pipe_t may be adopted before uv_spawn and then passed to it through uv_stream()). From
  // then on handle->data is the stream's; the stream closes the handle with uv_close and deletes
  // it in the close callback. Reading starts at the first read, so a write-only pipe is fine.
  template <class H>
  requires std::is_same_v<H, uv_tcp_t> || std::is_same_v<H, uv_pipe_t> ||
      std::is_same_v<H, uv_tty_t>
  static Stream adopt(std::unique_ptr<H> handle) {
    return adopt_handle(reinterpret_cast<uv_stream_t*>(handle.release()),
                        [](uv_handle_t* h) { delete reinterpret_cast<H*>(h); });
  }
  // The libuv handle (null once closed).
  uv_stream_t* uv_stream() const noexcept;

  // ---- Reading (each awaitable keeps the stream alive until it is done) ----
  // stream.read(n): up to n bytes, waiting only if none are buffered; n = -1 reads until EOF.
  // Empty at EOF. ConnectionResetError (an OSError) if the peer reset the connection.
  Coro<std::string> read(std::ptrdiff_t n = -1);
  // stream.readinto(buf): like read(buf.size()) into `buf` (which must outlive the await); the
  // byte count, 0 at EOF.
  Coro<std::size_t> readinto(std::span<char> buf);
  // stream.readline(): up to and including the next '\n'; the rest if EOF comes first; empty at
  // EOF.
  Coro<std::string> readline();
  // stream.readexactly(n): exactly n bytes; IncompleteReadError (an EOFError) if EOF comes first.
  Coro<std::string> readexactly(std::size_t n);

  // ---- Writing ----
  // stream.write(buf): sends what the socket takes at once; the rest is copied and sent later.
  // Raises the error of an earlier failed write (BrokenPipeError, ConnectionResetError, ...) and
  // BrokenPipeError once the stream is closed.
  void write(std::string_view data);
  // `await stream.drain()`: waits while more than the high-water mark is queued, until at most
  // the low-water mark is; otherwise yields once (§15.2). Raises the error of a failed write.
  Coro<void> drain();
  // MicroPython's legacy awrite: write + drain.
  Coro<void> awrite(std::string data);

  // ---- Closing ----
  // §15.2, stream.close(): does nothing but remember it was called (is_closing()), as in
  // MicroPython: reading and writing go on, and the peer sees nothing until wait_closed().
  void close();
  // §15.2, `await stream.wait_closed()`: sends what is still queued, closes the connection (the
  // peer sees EOF now), and waits until the handle is closed. Blocked readers see EOF.
  Coro<void> wait_closed();
  // MicroPython's legacy aclose: close + wait_closed.
  Coro<void> aclose();
  // Closes at once, dropping unsent data; on TCP the peer sees a reset (RST), not an EOF.
  void abort();
  // True once close(), wait_closed() or abort() was called (CPython's is_closing()).
  bool is_closing() const noexcept;
  // True once EOF was seen and every buffered byte consumed.
  bool at_eof() const noexcept;

  // §15.2, stream.get_extra_info(name): "peername" / "sockname" of a TCP stream; nullopt for
  // other names or handle types.
  std::optional<Address> get_extra_info(std::string_view name) const;

  // ---- Buffers ----
  // Bytes queued for sending (in libuv's queue, not yet taken by the kernel).
  std::size_t write_buffer_size() const noexcept;
  // Bytes received and not yet consumed.
  std::size_t read_buffer_size() const noexcept;
  // drain() waits while more than `high` bytes are queued, until at most `low` are
  // (default low: high / 4). Limits of 0 make drain() wait until everything is sent, as
  // MicroPython's drain does.
  void set_write_buffer_limits(std::size_t high, std::optional<std::size_t> low = std::nullopt);
  // Reading pauses while `limit` bytes wait unconsumed (one read may overshoot by up to 64 KiB).
  void set_read_limit(std::size_t limit);

  explicit operator bool() const noexcept { return static_cast<bool>(core_); }
  friend bool operator==(const Stream& a, const Stream& b) noexcept { return a.core_ == b.core_; }

 private:
  friend Coro<std::pair<Stream, Stream>> open_connection(std::string host, int port);
  explicit Stream(detail::StreamCore* core) noexcept : core_(core) {}
  static Stream adopt_handle(uv_stream_t* handle, void (*free_handle)(uv_handle_t*));
  static Coro<std::string> read_impl(Stream s, std::ptrdiff_t n);
  static Coro<std::size_t> readinto_impl(Stream s, std::span<char> buf);
  static Coro<std::string> readline_impl(Stream s);
  static Coro<std::string> readexactly_impl(Stream s, std::size_t n);
  static Coro<void> drain_impl(Stream s);
  static Coro<void> wait_closed_impl(Stream s);
  static Coro<int> connect_impl(Stream s, sockaddr_storage address);

  detail::IntrusivePtr<detail::StreamCore> core_;
};

using StreamReader = Stream;
using StreamWriter = Stream;

// §15.3, asyncio.open_connection(host, port): connects to host:port (a name is resolved with
// uv_getaddrinfo, off the loop's thread; each address is tried in turn). Gives two handles of
// the one connection: (reader, writer). OSError (ConnectionRefusedError, GaiError, ...) naming
// host:port if no address connects.
Coro<std::pair<StreamReader, StreamWriter>> open_connection(std::string host, int port);

// Resolves host (a name or a numeric address) for TCP without blocking the loop (CPython's
// loop.getaddrinfo; MicroPython's socket.getaddrinfo blocks).
Coro<std::vector<Address>> getaddrinfo(std::string host, int port);

}  // namespace uasyncio
