// A uasyncio Stream reading (or writing) a pipe descriptor this process already has, on the
// calling thread's loop: what Stream::adopt and uv_pipe_open give, in one call.
// Thread rules: the loop's thread. Lifetime: the Stream owns `fd` from then on (even on error).
#pragma once

#include <uasyncio/stream.hpp>

namespace uasyncd::exec::detail {

// Throws uasyncio::OSError if libuv refuses the descriptor (it is closed then).
uasyncio::Stream pipe_stream(int fd);

}  // namespace uasyncd::exec::detail
