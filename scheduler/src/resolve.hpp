// Name resolution and address formatting shared by streams and servers (library-internal).
#pragma once

#include <uv.h>

#include <string>
#include <vector>

#include "uasyncio/coro.hpp"
#include "uasyncio/stream.hpp"

namespace uasyncio::detail {

// The TCP addresses of host:port. Numeric hosts are parsed in place; names go to
// uv_getaddrinfo (libuv's thread pool), so the loop never blocks. `passive`: an empty host means
// every local interface (for binding). GaiError if nothing resolves.
Coro<std::vector<sockaddr_storage>> resolve(std::string host, int port, bool passive);

Address to_address(const sockaddr* sa);
// "127.0.0.1:80", "[::1]:80": for error messages.
std::string host_port(const std::string& host, int port);

}  // namespace uasyncio::detail
