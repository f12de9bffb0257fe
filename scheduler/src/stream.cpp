#include "uasyncio/stream.hpp"

#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "resolve.hpp"
#include "sigpipe_block.hpp"
#include "stream_core.hpp"
#include "uasyncio/detail/uv_close.hpp"
#include "uasyncio/sleep.hpp"

namespace uasyncio {
namespace detail {
namespace {

// libuv calls alloc then read then the read callback for one stream before it touches another,
// so one scratch buffer per thread serves every stream; the callback copies out what arrived,
// and an idle connection holds no receive buffer at all.
thread_local char scratch[64 * 1024];

void on_alloc(uv_handle_t*, std::size_t, uv_buf_t* buf) {
  buf->base = scratch;
  buf->len = sizeof scratch;
}

void on_read(uv_stream_t* h, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<StreamCore*>(h->data);
  if (nread > 0) {
    c->rbuf.append(buf->base, static_cast<std::size_t>(nread));
    if (c->rbuf.size() >= c->read_limit) c->stop_reading();
  } else if (nread == UV_EOF) {
    c->eof = true;
    c->stop_reading();
  } else if (nread < 0) {
    c->read_error = static_cast<int>(nread);
    c->stop_reading();
  } else {
    return;  // EAGAIN: nothing happened
  }
  wake_all(*c->scheduler, c->readers);
}

void on_shutdown(uv_shutdown_t* req, int) {
  auto* c = static_cast<StreamCore*>(req->data);
  if (!c->close_issued) {
    c->close_issued = true;
    close_handle<StreamCore, &StreamCore::on_closed>(c->handle);
  }
}

// A write libuv could not finish at once: the request and a copy of the bytes in one block,
// alive until libuv's callback.
struct WriteReq {
  uv_write_t req;
  StreamCore* core;
  std::size_t len;
  char* bytes() { return reinterpret_cast<char*>(this + 1); }
};

void on_write(uv_write_t* req, int status) {
  auto* w = reinterpret_cast<WriteReq*>(req);
  StreamCore* c = w->core;
  c->set_write_pending(c->write_pending - w->len);
  ::operator delete(w);
  if (status < 0 && status != UV_ECANCELED && c->write_error == 0) c->write_error = status;
  if (c->write_pending <= c->low_water || c->write_error != 0) wake_all(*c->scheduler, c->writers);
}

void on_connect(uv_connect_t* req, int status) {
  auto* c = static_cast<StreamCore*>(req->data);
  c->connect_status = status;
  wake_all(*c->scheduler, c->writers);
}

bool is_socket_handle(uv_stream_t* h) {
  if (h->type == UV_TCP) return true;
  uv_os_fd_t fd = -1;
  struct stat st {};
  return uv_fileno(reinterpret_cast<uv_handle_t*>(h), &fd) == 0 && ::fstat(fd, &st) == 0 &&
         S_ISSOCK(st.st_mode);
}

std::string describe(const StreamCore& c, const char* what) {
  std::string s = what;
  if (c.handle != nullptr && c.handle->type == UV_TCP) {
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (uv_tcp_getpeername(reinterpret_cast<const uv_tcp_t*>(c.handle),
                           reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
      Address a = to_address(reinterpret_cast<sockaddr*>(&ss));
      s.push_back(' ');
      s.append(host_port(a.host, a.port));
    }
  }
  return s;
}

}  // namespace

StreamCore::StreamCore(Scheduler& s, uv_stream_t* h, void (*free)(uv_handle_t*)) noexcept
    : scheduler(&s), handle(h), free_handle(free) {
  h->data = this;
}

void StreamCore::on_closed(StreamCore* c) {
  c->free_handle(as_uv_handle(c->handle));
  c->handle = nullptr;
  c->handle_open = false;
  c->set_write_pending(0);  // libuv cancelled what was still queued
  wake_all(*c->scheduler, c->readers);
  wake_all(*c->scheduler, c->writers);
  wake_all(*c->scheduler, c->closers);
  if (c->refs == 0) delete c;
}

void intrusive_add_ref(StreamCore* c) noexcept {
  ++c->refs;
}

void intrusive_release(StreamCore* c) noexcept {
  if (--c->refs != 0) return;
  if (!c->handle_open) {
    delete c;
  } else {
    c->start_close();  // the last handle is gone: close, queued data still goes out
  }
}

void StreamCore::set_write_pending(std::size_t n) noexcept {
  if ((write_pending == 0) != (n == 0)) scheduler->count_queued_writer(n == 0 ? -1 : 1);
  write_pending = n;
}

int StreamCore::write_now(const char* p, std::size_t n) {
  if (is_socket) {
    uv_os_fd_t fd = -1;
    uv_fileno(reinterpret_cast<uv_handle_t*>(handle), &fd);
    for (;;) {
      const ssize_t sent = ::send(fd, p, n, MSG_NOSIGNAL);
      if (sent >= 0) return static_cast<int>(sent);
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? UV_EAGAIN : -errno;
    }
  }
  const SigpipeBlock block;
  uv_buf_t buf = uv_buf_init(const_cast<char*>(p), static_cast<unsigned>(n));
  return uv_try_write(handle, &buf, 1);
}

void ByteBuffer::append(const char* p, std::size_t n) {
  // Drop consumed bytes once they are the larger part, so the vector does not creep forward.
  if (head_ > 0 && head_ >= bytes_.size() - head_) {
    bytes_.erase(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
  bytes_.insert(bytes_.end(), p, p + n);
}

void ByteBuffer::consume(std::size_t n) {
  head_ += n;
  if (head_ == bytes_.size()) {
    bytes_.clear();
    head_ = 0;
  }
}

bool StreamCore::need_data() {
  if (!rbuf.empty() || eof || read_error != 0 || closing) return false;
  read_started = true;
  ensure_reading();
  return read_error == 0;
}

void StreamCore::ensure_reading() {
  if (reading || eof || read_error != 0 || closing || rbuf.size() >= read_limit) return;
  if (int rc = uv_read_start(handle, on_alloc, on_read); rc != 0) {
    read_error = rc;
    return;
  }
  reading = true;
}

void StreamCore::stop_reading() {
  if (!reading) return;
  uv_read_stop(handle);
  reading = false;
}

void StreamCore::consume(std::size_t n) {
  rbuf.consume(n);
  if (read_started) ensure_reading();
}

void StreamCore::start_close() {
  if (closing) return;
  closing = true;
  stop_reading();
  wake_all(*scheduler, readers);
  // Queued data is sent first; uv_shutdown then closes our side of the connection, and its
  // callback closes the handle.
  if (write_pending > 0) {
    shutdown_req.data = this;
    if (uv_shutdown(&shutdown_req, handle, on_shutdown) == 0) return;
  }
  close_issued = true;
  close_handle<StreamCore, &StreamCore::on_closed>(handle);
}

void StreamCore::abort() {
  if (close_issued) return;
  closing = true;
  stop_reading();
  close_issued = true;
  announce_descriptor_close(
      as_uv_handle(handle));  // the fallback below announces it again: harmless
  if (handle->type == UV_TCP &&
      uv_tcp_close_reset(reinterpret_cast<uv_tcp_t*>(handle),
                         owner_closed<StreamCore, &StreamCore::on_closed>) == 0) {
    return;
  }
  close_handle<StreamCore, &StreamCore::on_closed>(handle);
}

}  // namespace detail

IncompleteReadError::IncompleteReadError(std::string partial, std::size_t expected)
    : EOFError("readexactly(" + std::to_string(expected) + "): EOF after " +
               std::to_string(partial.size()) + " of " + std::to_string(expected) + " bytes"),
      partial_(std::move(partial)),
      expected_(expected) {}

Stream Stream::adopt_handle(uv_stream_t* handle, void (*free_handle)(uv_handle_t*)) {
  auto* core = new detail::StreamCore(detail::current_scheduler(), handle, free_handle);
  core->is_socket = detail::is_socket_handle(handle);
  return Stream(core);
}

uv_stream_t* Stream::uv_stream() const noexcept {
  return core_->handle;
}

// ---- Reading ----

Coro<std::string> Stream::read(std::ptrdiff_t n) {
  return read_impl(*this, n);
}
Coro<std::size_t> Stream::readinto(std::span<char> buf) {
  return readinto_impl(*this, buf);
}
Coro<std::string> Stream::readline() {
  return readline_impl(*this);
}
Coro<std::string> Stream::readexactly(std::size_t n) {
  return readexactly_impl(*this, n);
}

Coro<std::string> Stream::read_impl(Stream s, std::ptrdiff_t n) {
  detail::StreamCore& c = *s.core_;
  std::string out;
  if (n == 0) co_return out;
  for (;;) {
    while (c.need_data())
      co_await detail::IoWait(c.readers);
    if (c.rbuf.empty()) {
      if (c.read_error != 0 && out.empty())
        detail::throw_os_error(c.read_error, detail::describe(c, "read"));
      co_return out;  // EOF (an error after data is raised by the next read)
    }
    const std::size_t take =
        n < 0 ? c.rbuf.size() : std::min(c.rbuf.size(), static_cast<std::size_t>(n));
    out.append(c.rbuf.data(), take);
    c.consume(take);
    if (n >= 0) co_return out;
  }
}

Coro<std::size_t> Stream::readinto_impl(Stream s, std::span<char> buf) {
  detail::StreamCore& c = *s.core_;
  if (buf.empty()) co_return 0;
  while (c.need_data())
    co_await detail::IoWait(c.readers);
  if (c.rbuf.empty()) {
    if (c.read_error != 0) detail::throw_os_error(c.read_error, detail::describe(c, "read"));
    co_return 0;
  }
  const std::size_t take = std::min(c.rbuf.size(), buf.size());
  std::memcpy(buf.data(), c.rbuf.data(), take);
  c.consume(take);
  co_return take;
}

Coro<std::string> Stream::readline_impl(Stream s) {
  detail::StreamCore& c = *s.core_;
  std::string line;
  for (;;) {
    while (c.need_data())
      co_await detail::IoWait(c.readers);
    if (c.rbuf.empty()) {
      if (c.read_error != 0) detail::throw_os_error(c.read_error, detail::describe(c, "readline"));
      co_return line;
    }
    const char* p = c.rbuf.data();
    const auto* nl = static_cast<const char*>(std::memchr(p, '\n', c.rbuf.size()));
    const std::size_t take = nl != nullptr ? static_cast<std::size_t>(nl - p) + 1 : c.rbuf.size();
    line.append(p, take);
    c.consume(take);
    if (nl != nullptr) co_return line;
  }
}

Coro<std::string> Stream::readexactly_impl(Stream s, std::size_t n) {
  detail::StreamCore& c = *s.core_;
  std::string out;
  out.reserve(std::min<std::size_t>(n, 1 << 20));
  while (out.size() < n) {
    while (c.need_data())
      co_await detail::IoWait(c.readers);
    if (c.rbuf.empty()) {
      if (c.read_error != 0)
        detail::throw_os_error(c.read_error, detail::describe(c, "readexactly"));
      throw IncompleteReadError(std::move(out), n);
    }
    const std::size_t take = std::min(c.rbuf.size(), n - out.size());
    out.append(c.rbuf.data(), take);
    c.consume(take);
  }
  co_return out;
}

// ---- Writing ----

void Stream::write(std::string_view data) {
  detail::StreamCore& c = *core_;
  if (c.write_error != 0) detail::throw_os_error(c.write_error, detail::describe(c, "write"));
  if (c.closing) detail::throw_os_error(UV_EPIPE, "write to a closed stream");
  if (data.empty()) return;
  if (c.write_pending == 0) {
    // The common case: the kernel takes it all now, and nothing is copied or allocated.
    const int n = c.write_now(data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      if (data.empty()) return;
    } else if (n != UV_EAGAIN) {
      c.write_error = n;
      detail::throw_os_error(n, detail::describe(c, "write"));
    }
  }
  void* block = ::operator new(sizeof(detail::WriteReq) + data.size());
  auto* w = new (block) detail::WriteReq{};
  w->core = &c;
  w->len = data.size();
  std::memcpy(w->bytes(), data.data(), data.size());
  uv_buf_t buf = uv_buf_init(w->bytes(), static_cast<unsigned>(data.size()));
  int rc = 0;
  {
    // uv_write may write at once, with write(): no SIGPIPE from that either.
    const detail::SigpipeBlock block_sigpipe;
    rc = uv_write(&w->req, c.handle, &buf, 1, detail::on_write);
  }
  if (rc != 0) {
    ::operator delete(block);
    c.write_error = rc;
    detail::throw_os_error(rc, detail::describe(c, "write"));
  }
  c.set_write_pending(c.write_pending + data.size());
}

Coro<void> Stream::drain() {
  return drain_impl(*this);
}

Coro<void> Stream::drain_impl(Stream s) {
  detail::StreamCore& c = *s.core_;
  if (c.write_error != 0) detail::throw_os_error(c.write_error, detail::describe(c, "drain"));
  if (c.write_pending > c.high_water) {
    while (c.write_pending > c.low_water && c.write_error == 0 && c.handle_open) {
      co_await detail::IoWait(c.writers);
    }
    if (c.write_error != 0) detail::throw_os_error(c.write_error, detail::describe(c, "drain"));
  } else {
    co_await sleep_ms(0);  // §15.2: drain always yields
  }
}

Coro<void> Stream::awrite(std::string data) {
  write(data);
  co_await drain();
}

// ---- Closing ----

void Stream::close() {
  core_->close_called = true;
}
void Stream::abort() {
  core_->abort();
}
bool Stream::is_closing() const noexcept {
  return core_->close_called || core_->closing;
}
bool Stream::at_eof() const noexcept {
  return core_->eof && core_->rbuf.empty();
}

Coro<void> Stream::wait_closed() {
  return wait_closed_impl(*this);
}

Coro<void> Stream::wait_closed_impl(Stream s) {
  detail::StreamCore& c = *s.core_;
  c.close_called = true;
  c.start_close();
  while (c.handle_open)
    co_await detail::IoWait(c.closers);
}

Coro<void> Stream::aclose() {
  return wait_closed_impl(*this);
}

std::optional<Address> Stream::get_extra_info(std::string_view name) const {
  const detail::StreamCore& c = *core_;
  if (c.handle == nullptr || c.handle->type != UV_TCP) return std::nullopt;
  const auto* tcp = reinterpret_cast<const uv_tcp_t*>(c.handle);
  sockaddr_storage ss{};
  int len = sizeof ss;
  int rc = 1;
  if (name == "peername") {
    rc = uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&ss), &len);
  } else if (name == "sockname") {
    rc = uv_tcp_getsockname(tcp, reinterpret_cast<sockaddr*>(&ss), &len);
  }
  if (rc != 0) return std::nullopt;
  return detail::to_address(reinterpret_cast<sockaddr*>(&ss));
}

std::size_t Stream::write_buffer_size() const noexcept {
  return core_->write_pending;
}
std::size_t Stream::read_buffer_size() const noexcept {
  return core_->rbuf.size();
}

void Stream::set_write_buffer_limits(std::size_t high, std::optional<std::size_t> low) {
  core_->high_water = high;
  core_->low_water = std::min(high, low.value_or(high / 4));
}

void Stream::set_read_limit(std::size_t limit) {
  core_->read_limit = std::max<std::size_t>(limit, 1);
  if (core_->reading && core_->rbuf.size() >= core_->read_limit) core_->stop_reading();
}

// ---- Connecting ----

Coro<int> Stream::connect_impl(Stream s, sockaddr_storage address) {
  detail::StreamCore& c = *s.core_;
  c.connect_req.data = &c;
  c.connect_status = 1;
  if (int rc = uv_tcp_connect(&c.connect_req, reinterpret_cast<uv_tcp_t*>(c.handle),
                              reinterpret_cast<const sockaddr*>(&address), detail::on_connect);
      rc != 0) {
    co_return rc;
  }
  while (c.connect_status == 1)
    co_await detail::IoWait(c.writers);
  co_return c.connect_status;
}

Coro<std::pair<StreamReader, StreamWriter>> open_connection(std::string host, int port) {
  std::vector<sockaddr_storage> addresses = co_await detail::resolve(host, port, false);
  int error = UV_EAI_NODATA;
  for (const sockaddr_storage& address : addresses) {
    auto tcp = std::make_unique<uv_tcp_t>();
    if (int rc = uv_tcp_init(detail::current_scheduler().uv_loop(), tcp.get()); rc != 0) {
      detail::throw_os_error(rc, "open_connection " + detail::host_port(host, port));
    }
    Stream s = Stream::adopt(std::move(tcp));
    error = co_await Stream::connect_impl(s, address);
    if (error == 0) {
      uv_tcp_nodelay(reinterpret_cast<uv_tcp_t*>(s.uv_stream()), 1);
      co_return std::pair<StreamReader, StreamWriter>{s, s};
    }
  }
  detail::throw_os_error(error, "open_connection " + detail::host_port(host, port));
}

}  // namespace uasyncio
