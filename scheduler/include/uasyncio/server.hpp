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
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "uasyncio/coro.hpp"
#include "uasyncio/stream.hpp"

namespace uasyncio {

// What runs for each connection. A capturing lambda's captures live in the server: they must not
// be used after the server closed (pass state as coroutine parameters instead).
using ServerCallback = std::function<Coro<void>(StreamReader, StreamWriter)>;

namespace detail {
struct ServerCore;
}

class Server {
 public:
  Server() noexcept = default;
  explicit Server(detail::ServerCore* core) noexcept;
  Server(const Server& o) noexcept;
  Server(Server&& o) noexcept : core_(std::exchange(o.core_, nullptr)) {}
  Server& operator=(Server o) noexcept {
    std::swap(core_, o.core_);
    return *this;
  }
  ~Server();

  // Stops accepting connections (the listening socket closes). Repeated calls do nothing.
  void close();
  // Waits until the server is closed (by close(), here or in another task).
  Coro<void> wait_closed();
  bool is_serving() const noexcept;
  // The address and port the server listens on (the port the system chose for port 0).
  Address sockname() const;
  int port() const { return sockname().port; }

  explicit operator bool() const noexcept { return core_ != nullptr; }

 private:
  friend Coro<Server> start_server(ServerCallback callback, std::string host, int port,
                                   int backlog);
  static Coro<void> wait_closed_impl(Server s);
  detail::ServerCore* core_ = nullptr;
};

// Binds host:port and listens (backlog: pending connections the kernel queues). Bind and listen
// errors (EADDRINUSE, EACCES, ...) raise OSError naming host:port. Yields once before returning.
Coro<Server> start_server(ServerCallback callback, std::string host, int port, int backlog = 5);

}  // namespace uasyncio
