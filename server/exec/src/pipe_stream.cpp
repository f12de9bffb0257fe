#include "pipe_stream.hpp"

#include <uv.h>
#include <uasyncio/loop.hpp>
#include <uasyncio/os_error.hpp>

#include <unistd.h>

#include <memory>
#include <string>

namespace uasyncd::exec::detail {

uasyncio::Stream pipe_stream(int fd) {
  auto handle = std::make_unique<uv_pipe_t>();
  uv_pipe_init(uasyncio::get_event_loop().uv_loop(), handle.get(), 0);
  // Adopted before opening, so that the stream closes the handle if opening fails.
  uasyncio::Stream stream = uasyncio::Stream::adopt(std::move(handle));
  if (const int rc = uv_pipe_open(reinterpret_cast<uv_pipe_t*>(stream.uv_stream()), fd); rc != 0) {
    ::close(fd);
    throw uasyncio::OSError(-rc, std::string("cannot open a pipe: ") + uv_strerror(rc));
  }
  return stream;
}

}  // namespace uasyncd::exec::detail
