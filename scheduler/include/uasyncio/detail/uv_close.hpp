// Closing libuv handles, the one way this library does it (as uvco's close.h and uvw's Handle):
// libuv uses a handle's memory until its close callback has run, which may be after the object
// that asked for the close is gone, so the memory is freed, or its owner told, from that
// callback and nowhere else.
//
// Thread rules: on the thread of the loop the handle belongs to.
#pragma once

#include <uv.h>

namespace uasyncio::detail {

template <class H>
uv_handle_t* as_uv_handle(H* handle) noexcept {
  return reinterpret_cast<uv_handle_t*>(handle);
}

// The close callback that hands a closed handle's owner (its `data`) to OnClosed, for closing
// calls other than uv_close (uv_tcp_close_reset).
template <class Owner, void (*OnClosed)(Owner*)>
inline constexpr uv_close_cb owner_closed = +[](uv_handle_t* closed) {
  OnClosed(static_cast<Owner*>(closed->data));
};

// Closes a handle embedded in (or owned by) an object, whose `data` points at that object;
// `OnClosed(owner)` runs once libuv has let go of the handle (the owner may free itself there).
template <class Owner, void (*OnClosed)(Owner*), class H>
void close_handle(H* handle) noexcept {
  uv_close(as_uv_handle(handle), owner_closed<Owner, OnClosed>);
}

// Closes a handle allocated on its own with `new H`, and deletes it once libuv has let go of it.
template <class H>
void close_and_delete(H* handle) noexcept {
  uv_close(as_uv_handle(handle), [](uv_handle_t* closed) { delete reinterpret_cast<H*>(closed); });
}

}  // namespace uasyncio::detail
