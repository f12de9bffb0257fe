#include "resolve.hpp"

#include <cstring>

#include "stream_core.hpp"
#include "uasyncio/os_error.hpp"

namespace uasyncio::detail {
namespace {

// Lives on the heap, not in the frame: a cancelled resolver abandons it, and libuv's callback
// (which always comes, with UV_EAI_CANCELED at worst) frees it.
struct ResolveOp {
  uv_getaddrinfo_t req{};
  Scheduler* scheduler = nullptr;
  WaitList waiters;
  std::vector<sockaddr_storage> result;
  int status = 0;
  bool done = false;
  bool abandoned = false;
};

void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
  auto* op = static_cast<ResolveOp*>(req->data);
  op->status = status;
  for (addrinfo* ai = res; status == 0 && ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    sockaddr_storage ss{};
    std::memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    op->result.push_back(ss);
  }
  uv_freeaddrinfo(res);
  op->done = true;
  if (op->abandoned) {
    delete op;
  } else {
    wake_all(*op->scheduler, op->waiters);
  }
}

bool parse_numeric(const std::string& host, int port, sockaddr_storage& out) {
  out = {};
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&out)) == 0) return true;
  out = {};
  return host.find(':') != std::string::npos &&
         uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&out)) == 0;
}

}  // namespace

Coro<std::vector<sockaddr_storage>> resolve(std::string host, int port, bool passive) {
  if (port < 0 || port > 65535) {
    throw OSError(EINVAL, "port out of range: " + std::to_string(port));
  }
  if (passive && host.empty()) host = "0.0.0.0";
  sockaddr_storage numeric;
  if (parse_numeric(host, port, numeric)) co_return std::vector<sockaddr_storage>{numeric};

  Scheduler& scheduler = current_scheduler();
  auto* op = new ResolveOp;
  op->scheduler = &scheduler;
  op->req.data = op;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  const std::string service = std::to_string(port);
  if (int rc = uv_getaddrinfo(scheduler.uv_loop(), &op->req, on_resolved, host.c_str(),
                              service.c_str(), &hints);
      rc != 0) {
    delete op;
    throw_os_error(rc, "getaddrinfo " + host_port(host, port));
  }
  struct Owner {
    ResolveOp* op;
    ~Owner() {
      if (op->done) {
        delete op;
      } else {
        op->abandoned = true;
        uv_cancel(reinterpret_cast<uv_req_t*>(&op->req));
      }
    }
  } owner{op};
  while (!op->done)
    co_await IoWait(op->waiters);
  if (op->status != 0) throw_os_error(op->status, "getaddrinfo " + host_port(host, port));
  if (op->result.empty()) throw_os_error(UV_EAI_NODATA, "getaddrinfo " + host_port(host, port));
  co_return std::move(op->result);
}

Address to_address(const sockaddr* sa) {
  char name[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    uv_ip4_name(in, name, sizeof name);
    return {name, ntohs(in->sin_port)};
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    uv_ip6_name(in6, name, sizeof name);
    return {name, ntohs(in6->sin6_port)};
  }
  return {};
}

std::string host_port(const std::string& host, int port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

}  // namespace uasyncio::detail

namespace uasyncio {

Coro<std::vector<Address>> getaddrinfo(std::string host, int port) {
  std::vector<sockaddr_storage> found = co_await detail::resolve(std::move(host), port, false);
  std::vector<Address> out;
  out.reserve(found.size());
  for (const sockaddr_storage& ss : found) {
    out.push_back(detail::to_address(reinterpret_cast<const sockaddr*>(&ss)));
  }
  co_return out;
}

}  // namespace uasyncio
