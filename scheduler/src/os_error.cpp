#include "uasyncio/os_error.hpp"

#include <uv.h>

#include <cerrno>

namespace uasyncio::detail {

std::exception_ptr os_error(int uv_code, const std::string& context) {
  const std::string message =
      context + ": " + uv_strerror(uv_code) + " (" + uv_err_name(uv_code) + ")";
  const int error = -uv_code;
  switch (uv_code) {
    case UV_ECONNRESET:
      return std::make_exception_ptr(ConnectionResetError(error, message));
    case UV_ECONNREFUSED:
      return std::make_exception_ptr(ConnectionRefusedError(error, message));
    case UV_ECONNABORTED:
      return std::make_exception_ptr(ConnectionAbortedError(error, message));
    case UV_EPIPE:
      return std::make_exception_ptr(BrokenPipeError(error, message));
    default:
      break;
  }
  if (uv_code <= UV_EAI_ADDRFAMILY && uv_code >= UV_EAI_PROTOCOL) {
    return std::make_exception_ptr(GaiError(error, message));
  }
  return std::make_exception_ptr(OSError(error, message));
}

void throw_os_error(int uv_code, const std::string& context) {
  std::rethrow_exception(os_error(uv_code, context));
}

}  // namespace uasyncio::detail
