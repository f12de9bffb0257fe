// start_server (§15.3): a TCP server whose every connection runs `callback(reader, writer)` as a
// new task.
//
//   ua::Coro<void> echo(ua::StreamReader r, ua::StreamWriter w) { ... }
//   ua::Server server = co_await ua::start_server(echo, "127.0.0.1", 0);
//   int port = server.port();        // the port bound (port 0 picks a free one)
//   ...
//   server.close();
//   co_await server.wait_closed();
//
// As in MicroPython, a server serves until close() is called, whether or not a Server handle is
// kept (`create_task(start_server(...))` and forgetting it is a valid server). Closing stops
// accepting; connections already accepted run on.
//
// Lifetime: Server handles share the server; it lives until it is closed and the last handle
// is gone. Each connection's task owns its streams.
// Thread rules: on the loop's thread only.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "uasyncio/coro.hpp"
#include "uasyncio/detail/intrusive_ptr.hpp"
#include "uasyncio/stream.hpp"

namespace uasyncio {

// What runs for each connection. A capturing lambda's captures live in the server: they must not
// be used after the server closed (pass state as coroutine parameters instead).
using ServerCallback = std::function<Coro<void>(StreamReader, StreamWriter)>;

namespace detail {
struct ServerCore;
void intrusive_add_ref(ServerCore* s) noexcept;
void intrusive_release(ServerCore* s) noexcept;
}  // namespace detail

class Server {
 public:
  // An empty handle (no server).
  Server() noexcept = default;
  explicit Server(detail::ServerCore* core) noexcept : core_(core) {}

  // §15.3, server.close(): stops accepting connections (the listening socket closes). Repeated
  // calls do nothing.
  void close();
  // §15.3, `await server.wait_closed()`: waits until the server is closed (by close(), here or
  // in another task).
  Coro<void> wait_closed();
  bool is_serving() const noexcept;
  // The address and port the server listens on (the port the system chose for port 0).
  Address sockname() const;
  int port() const { return sockname().port; }

  explicit operator bool() const noexcept { return static_cast<bool>(core_); }

 private:
  friend Coro<Server> start_server(ServerCallback callback, std::string host, int port,
                                   int backlog);
  static Coro<void> wait_closed_impl(Server s);
  detail::IntrusivePtr<detail::ServerCore> core_;
};

// §15.3, asyncio.start_server(cb, host, port, backlog): binds host:port and listens (backlog:
// pending connections the kernel queues). Bind and listen errors (EADDRINUSE, EACCES, ...) raise
// OSError naming host:port. Yields once before returning.
Coro<Server> start_server(ServerCallback callback, std::string host, int port, int backlog = 5);

}  // namespace uasyncio
