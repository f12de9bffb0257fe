// One accepted TCP connection of the HTTP transport, with the bytes read from it and not yet
// consumed, and the bytes still to write to it.
//
// Thread rules: a connection belongs to one thread at a time, the connection gate's thread while
// it waits for a request head, writes queued output, lingers or holds a parked request, or one
// worker thread while that serves a request. It changes hands only through a mutex-protected
// queue (the gate's command queue, the worker pool's job queue), which orders every access to
// its fields. Only the gate closes the socket. Lifetime: shared by whoever holds it; the socket
// is closed by the gate or, at the latest, by the destructor.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "uasyncd/api/request_head.hpp"

namespace uasyncd::api {

class DeferredResponse;

struct Connection {
  using Clock = std::chrono::steady_clock;

  Connection(int socket_fd, std::uint64_t connection_id) : fd(socket_fd), id(connection_id) {}
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Bytes received and not yet consumed.
  std::string_view unread() const { return std::string_view(in).substr(in_pos); }
  void consume(std::size_t n) { in_pos += n; }
  // Drops consumed bytes once they are the larger part of the buffer.
  void compact();
  // `out` was written in full: empties it, and gives its memory back when a large answer grew it
  // (a keep-alive connection would keep it until it closes: 200 waiting clients of a 1.6 MB
  // record kept 300 MiB).
  void output_written();
  // One recv() from the socket onto `in`: bytes read, 0 at the end of the stream, -1 with errno.
  ssize_t receive();
  // The head at in_pos was consumed: look for the next one.
  void next_request();
  // The length of the head at in_pos once it has arrived in full (empty lines before it are
  // dropped, as RFC 9112 section 2.2 allows), else nullopt.
  std::optional<std::size_t> find_head();

  int fd;
  const std::uint64_t id;
  std::string in;
  std::size_t in_pos = 0;
  HeadScanner scanner;        // finds the end of the head at in_pos
  std::size_t head_size = 0;  // of the head at in_pos, once it has arrived
  Clock::time_point head_at;  // when it had arrived
  std::string out;            // bytes to write, from out_pos
  std::size_t out_pos = 0;
  std::size_t requests = 0;  // requests served on this connection so far
  std::string remote_ip;     // filled by the first worker that serves a request
  int remote_port = -1;
  std::string local_ip;
  int local_port = -1;

  // Owned by the gate thread, whatever thread holds the connection.
  enum class Stage { reading_head, idle, in_worker, writing, parked, lingering, closed };
  Stage stage = Stage::reading_head;
  Clock::time_point deadline = Clock::time_point::max();
  enum class Then { keep_alive, close, linger };
  Then after_write = Then::close;
  std::shared_ptr<DeferredResponse> parked;
  bool parked_expired = false;  // the parked request was told its time is up
  std::size_t discarded = 0;    // bytes thrown away while lingering
};

}  // namespace uasyncd::api
