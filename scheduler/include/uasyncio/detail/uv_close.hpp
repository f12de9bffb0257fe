// Closing libuv handles, the one way this library does it (as uvco's close.h and uvw's Handle):
// libuv uses a handle's memory until its close callback has run, which may be after the object
// that asked for the close is gone, so the memory is freed, or its owner told, from that
// callback and nowhere else.
//
// Thread rules: on the thread of the loop the handle belongs to.
#pragma once

#include <uv.h>

#include <cstddef>

#if defined(__SANITIZE_THREAD__)
#define UASYNCIO_THREAD_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UASYNCIO_THREAD_SANITIZER 1
#endif
#endif

#ifdef UASYNCIO_THREAD_SANITIZER
// The sanitizers' hook for a close(2) made without the C library (sanitizer/linux_syscall_hooks.h,
// which g++ does not install).
extern "C" void __sanitizer_syscall_pre_impl_close(long fd);
#endif

namespace uasyncio::detail {

// libuv closes descriptors with a raw close system call, which ThreadSanitizer cannot see: it
// would take the next thread that gets the same number (an accept, an open) for one racing with
// the thread that opened the old descriptor, and stop the program. So the close of a handle that
// owns a descriptor is told to it first, as libuv does itself when built with the sanitizer.
// Nothing in other builds.
inline void announce_descriptor_close([[maybe_unused]] uv_handle_t* handle) noexcept {
#ifdef UASYNCIO_THREAD_SANITIZER
  switch (handle->type) {
    case UV_TCP:
    case UV_NAMED_PIPE:
    case UV_TTY:
    case UV_UDP:
      break;
    default:
      return;  // a poll handle's descriptor is its owner's to close; others have none
  }
  uv_os_fd_t fd = -1;
  // libuv leaves stdin, stdout and stderr open.
  if (uv_fileno(handle, &fd) == 0 && fd > 2) __sanitizer_syscall_pre_impl_close(fd);
#endif
}

template <class H>
uv_handle_t* as_uv_handle(H* handle) noexcept {
  return reinterpret_cast<uv_handle_t*>(handle);
}

// The same for the descriptors a loop holds for itself (its epoll instance, the eventfd of its
// async handles, the pipe of its signal handles, its inotify instance), told only when
// uv_loop_close is going to close them: when no request and no handle but libuv's own is left.
inline void announce_loop_close([[maybe_unused]] uv_loop_t* loop) noexcept {
#ifdef UASYNCIO_THREAD_SANITIZER
  bool handles_left = false;
  uv_walk(
      loop, [](uv_handle_t*, void* left) { *static_cast<bool*>(left) = true; }, &handles_left);
  // uv_loop_close fails with UV_EBUSY then, and closes nothing.
  if (handles_left || loop->active_reqs.count != 0) return;
  const int fds[] = {uv_backend_fd(loop),    loop->async_io_watcher.fd, loop->async_wfd,
                     loop->signal_pipefd[0], loop->signal_pipefd[1],    loop->inotify_fd};
  for (std::size_t i = 0; i < sizeof fds / sizeof fds[0]; ++i) {
    bool seen = false;  // the eventfd is both ends of the async channel
    for (std::size_t j = 0; j < i; ++j)
      seen = seen || fds[j] == fds[i];
    if (fds[i] > 2 && !seen) __sanitizer_syscall_pre_impl_close(fds[i]);
  }
#endif
}

// The close callback that hands a closed handle's owner (its `data`) to OnClosed, for closing
// calls other than uv_close (uv_tcp_close_reset: call announce_descriptor_close first).
template <class Owner, void (*OnClosed)(Owner*)>
inline constexpr uv_close_cb owner_closed = +[](uv_handle_t* closed) {
  OnClosed(static_cast<Owner*>(closed->data));
};

// Closes a handle embedded in (or owned by) an object, whose `data` points at that object;
// `OnClosed(owner)` runs once libuv has let go of the handle (the owner may free itself there).
template <class Owner, void (*OnClosed)(Owner*), class H>
void close_handle(H* handle) noexcept {
  announce_descriptor_close(as_uv_handle(handle));
  uv_close(as_uv_handle(handle), owner_closed<Owner, OnClosed>);
}

// Closes a handle allocated on its own with `new H`, and deletes it once libuv has let go of it.
template <class H>
void close_and_delete(H* handle) noexcept {
  announce_descriptor_close(as_uv_handle(handle));
  uv_close(as_uv_handle(handle), [](uv_handle_t* closed) { delete reinterpret_cast<H*>(closed); });
}

}  // namespace uasyncio::detail
