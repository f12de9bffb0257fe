#include "uasyncio/server.hpp"

#include <memory>

#include "resolve.hpp"
#include "stream_core.hpp"
#include "uasyncio/detail/uv_close.hpp"
#include "uasyncio/errors.hpp"
#include "uasyncio/sleep.hpp"
#include "uasyncio/task.hpp"

namespace uasyncio {
namespace detail {

// Lives while a Server handle refers to it or its listening handle is open (a server serves
// until closed, handle or no handle).
struct ServerCore {
  ServerCore(Scheduler& s, ServerCallback cb) : scheduler(&s), callback(std::move(cb)) {}
  void close();
  static void on_closed(ServerCore* s);

  Scheduler* scheduler;
  ServerCallback callback;
  uv_tcp_t tcp{};
  std::uint32_t refs = 0;
  bool handle_open = false;
  bool closing = false;
  WaitList closers;
};

void intrusive_add_ref(ServerCore* s) noexcept {
  ++s->refs;
}
void intrusive_release(ServerCore* s) noexcept {
  if (--s->refs == 0 && !s->handle_open) delete s;
}

void ServerCore::on_closed(ServerCore* s) {
  s->handle_open = false;
  wake_all(*s->scheduler, s->closers);
  if (s->refs == 0) delete s;
}

namespace {

void on_connection(uv_stream_t* listener, int status) {
  auto* s = static_cast<ServerCore*>(listener->data);
  if (status < 0) return;  // e.g. EMFILE: libuv already dropped that connection
  auto tcp = std::make_unique<uv_tcp_t>();
  if (uv_tcp_init(s->scheduler->uv_loop(), tcp.get()) != 0) return;
  Stream stream = Stream::adopt(std::move(tcp));
  if (uv_accept(listener, stream.uv_stream()) != 0) return;  // dropping the stream closes it
  uv_tcp_nodelay(reinterpret_cast<uv_tcp_t*>(stream.uv_stream()), 1);
  // Calling the callback only creates the coroutine (its body runs once the task is scheduled),
  // so this callback still only enqueues. It must not throw into libuv's C frames.
  Loop& loop = s->scheduler->loop();
  try {
    loop.create_task(s->callback(stream, stream));
  } catch (...) {
    loop.call_exception_handler(
        {"start_server: connection callback failed", std::current_exception(), {}});
  }
}

}  // namespace

void ServerCore::close() {
  if (closing || !handle_open) return;
  closing = true;
  close_handle<ServerCore, &ServerCore::on_closed>(&tcp);
}

}  // namespace detail

void Server::close() {
  core_->close();
}
bool Server::is_serving() const noexcept {
  return core_->handle_open && !core_->closing;
}

Address Server::sockname() const {
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (!core_->handle_open ||
      uv_tcp_getsockname(&core_->tcp, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return {};
  }
  return detail::to_address(reinterpret_cast<sockaddr*>(&ss));
}

Coro<void> Server::wait_closed() {
  return wait_closed_impl(*this);
}

Coro<void> Server::wait_closed_impl(Server s) {
  while (s.core_->handle_open)
    co_await detail::IoWait(s.core_->closers);
}

Coro<Server> start_server(ServerCallback callback, std::string host, int port, int backlog) {
  std::vector<sockaddr_storage> addresses = co_await detail::resolve(host, port, true);
  detail::Scheduler& scheduler = detail::current_scheduler();
  Server server(new detail::ServerCore(scheduler, std::move(callback)));
  detail::ServerCore& core = *server.core_;
  const std::string where = "start_server: cannot listen on " + detail::host_port(host, port);
  if (int rc = uv_tcp_init(scheduler.uv_loop(), &core.tcp); rc != 0) {
    detail::throw_os_error(rc, where);
  }
  core.tcp.data = &core;
  core.handle_open = true;
  // libuv reports EADDRINUSE from listen, not bind: both are checked.
  int rc = uv_tcp_bind(&core.tcp, reinterpret_cast<const sockaddr*>(&addresses.front()), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&core.tcp), backlog, detail::on_connection);
  }
  if (rc != 0) {
    core.close();
    detail::throw_os_error(rc, where);
  }
  try {
    co_await sleep_ms(0);  // §15.3: start_server yields once
  } catch (const CancelledError&) {
    core.close();  // nobody will ever hold this server: do not leave it listening
    throw;
  }
  co_return server;
}

}  // namespace uasyncio
