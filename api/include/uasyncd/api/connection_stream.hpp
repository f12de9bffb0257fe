// cpp-httplib's view of one request on a Connection: first the head the gate buffered, then
// the body within its framing, its size limit and a total deadline, then the end of the stream;
// and the response, collected and sent without blocking, or streamed (a content provider), or
// dropped (a deferred or refused request).
//
// Thread rules: used by the one worker thread that holds the connection, for one request.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "uasyncd/api/chunked_meter.hpp"
#include "uasyncd/api/connection.hpp"

namespace uasyncd::api {

// A request the transport answers itself with an error, without running a handler.
struct TransportRefusal {
  int status = 400;
  std::string code;
  std::string message;
};

class ConnectionStream final : public httplib::Stream {
 public:
  using Clock = std::chrono::steady_clock;
  struct Limits {
    std::uint64_t max_body_bytes = 1 << 20;
    std::chrono::milliseconds body_timeout{30000};   // for the whole body
    std::chrono::milliseconds write_timeout{10000};  // without progress, when blocking
  };
  enum class Framing { none, length, chunked };

  // Shared by the streams of one server.
  struct Counters {
    std::atomic<std::uint64_t> bytes_received{0};  // from the sockets
    std::atomic<std::uint64_t> body_bytes{0};      // request body bytes handed to cpp-httplib
  };

  ConnectionStream(Connection& conn, Limits limits, Counters& counters);

  // The head has been parsed: the body that follows it, if any. Its deadline starts now.
  // `max_body_bytes`: this request's limit, in place of the Limits one.
  void begin_body(Framing framing, std::uint64_t length, std::uint64_t max_body_bytes);
  // The response comes from a content provider: each write goes out at once (blocking).
  void stream_output() { mode_ = Output::streamed; }
  // The response is not this request cycle's to write (deferred, or refused): writes are dropped.
  void drop_output() { mode_ = Output::dropped; }

  // The body was read to its end (or there was none): the connection may carry another request.
  bool body_complete() const;
  // Why reading the body stopped (too large, too slow, malformed), if it did.
  const std::optional<TransportRefusal>& refusal() const { return refusal_; }
  // A write failed (the client left or stopped reading): the connection must close.
  bool write_failed() const { return write_failed_; }
  // Sends what is buffered without blocking; true once nothing is left (the rest stays in
  // conn.out, for the gate to write).
  bool flush_without_blocking();

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  // cpp-httplib answers 500 to a socket at or above FD_SETSIZE (it would select() on it); this
  // stream never selects, so such a socket is reported as none.
  socket_t socket() const override;

 private:
  enum class Output { buffered, streamed, dropped };
  // Makes unread bytes available, reading the socket once within the body deadline. False
  // at the end of the stream or on failure (refusal_ set when it is the request's fault).
  bool fill();
  bool flush_blocking();
  ssize_t take(char* ptr, std::size_t n);
  void refuse(int status, const char* code, std::string message);

  Connection& conn_;
  Limits limits_;
  Counters& counters_;
  std::size_t head_left_;
  bool in_body_ = false;
  Framing framing_ = Framing::none;
  std::uint64_t body_left_ = 0;
  ChunkedMeter meter_;
  Clock::time_point body_deadline_;
  bool eof_ = false;
  Output mode_ = Output::buffered;
  bool write_failed_ = false;
  std::optional<TransportRefusal> refusal_;
};

}  // namespace uasyncd::api
