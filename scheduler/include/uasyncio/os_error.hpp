// Python's OSError family, for errors the operating system reports (sockets, pipes, name
// resolution). Each carries the positive errno value and a message naming what failed, e.g.
// "start_server: cannot listen on 127.0.0.1:8080: address already in use (EADDRINUSE)".
// Ordinary exception values: copy them freely, on any thread.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>

namespace uasyncio {

// Python's OSError.
class OSError : public std::runtime_error {
 public:
  // `error` is a positive errno value (EADDRINUSE, ECONNRESET, ...); for a name-resolution
  // failure (GaiError) it is libuv's UV_EAI_* code, negated to be positive.
  OSError(int error, const std::string& message) : std::runtime_error(message), errno_(error) {}
  int error_code() const noexcept { return errno_; }

 private:
  int errno_;
};

// The subclasses Python raises for the errors a connection sees (ConnectionError and below).
class ConnectionError : public OSError {
 public:
  using OSError::OSError;
};
class ConnectionResetError : public ConnectionError {  // ECONNRESET: the peer reset it
 public:
  using ConnectionError::ConnectionError;
};
class ConnectionRefusedError : public ConnectionError {  // ECONNREFUSED: nobody listens
 public:
  using ConnectionError::ConnectionError;
};
class ConnectionAbortedError : public ConnectionError {  // ECONNABORTED
 public:
  using ConnectionError::ConnectionError;
};
class BrokenPipeError : public ConnectionError {  // EPIPE: writing after the peer closed
 public:
  using ConnectionError::ConnectionError;
};
// socket.gaierror: getaddrinfo could not resolve a name.
class GaiError : public OSError {
 public:
  using OSError::OSError;
};

namespace detail {
// The exception for libuv error `uv_code` (negative), as "<context>: <strerror> (<ENAME>)",
// of the most specific class above.
std::exception_ptr os_error(int uv_code, const std::string& context);
[[noreturn]] void throw_os_error(int uv_code, const std::string& context);
}  // namespace detail

}  // namespace uasyncio
