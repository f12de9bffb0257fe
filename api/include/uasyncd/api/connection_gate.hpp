// The HTTP transport's I/O thread: accepts connections and holds every connection that is not
// being served, so that only a complete request occupies a worker thread.
//
// It waits (epoll) for a request head to arrive in full, within a size cap (431 past it) and a
// total deadline (408); keeps idle keep-alive connections until their idle timeout; writes the
// output a worker or a deferred answer left; holds parked (deferred) requests, noticing a client
// that leaves and a deadline that passes; and lingers after a refusal so that the client reads
// it before the connection closes. A complete head goes to `dispatch`, with the connection.
//
// Why its own epoll thread rather than a libuv loop: the gate does nothing but readiness and
// deadlines on raw sockets it hands back and forth between threads; EPOLLONESHOT gives exactly
// that hand-off (an event disarms the socket until the gate re-arms it), without libuv's handle
// lifecycle (a uv_poll_t per hand-off, closed asynchronously) or its per-iteration cached clock.
//
// Thread rules: the public methods are safe from any thread (they queue a command and wake the
// gate); the hooks run on the gate thread and must not block. Lifetime: start() once, then
// stop_accepting(), close_all() and join() in that order (the destructor joins).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "uasyncd/api/connection.hpp"

namespace uasyncd::api {

class ConnectionGate {
 public:
  using Clock = std::chrono::steady_clock;
  using ConnectionPtr = std::shared_ptr<Connection>;

  struct Limits {
    std::size_t max_head_bytes = 64 * 1024;          // request line and headers, together
    std::chrono::milliseconds head_timeout{10000};   // from the first byte (or the accept)
    std::chrono::milliseconds idle_timeout{5000};    // between keep-alive requests
    std::chrono::milliseconds write_timeout{10000};  // without any progress
    std::chrono::milliseconds linger_timeout{2000};  // after a refusal, before closing
    std::size_t linger_bytes = 1 << 20;              // read and dropped at most, lingering
    // A parked request's owner gets this long to answer once told its time is up.
    std::chrono::milliseconds answer_grace{5000};
    std::size_t max_connections = 4096;  // past it, new connections are closed at once
  };
  struct Hooks {
    // A request head has arrived in full (conn->head_size): serve it on another thread, then
    // hand the connection back.
    std::function<void(ConnectionPtr)> dispatch;
    // The gate refused a request itself (431, 408): for the access log. `head` is what arrived.
    std::function<void(int status, std::string_view head)> refused;
  };
  struct Stats {
    std::atomic<std::uint64_t> accepted{0};
    std::atomic<std::uint64_t> bytes_received{0};  // by the gate (heads, lingering)
    std::atomic<std::uint64_t> open{0};            // connections now
    std::atomic<std::uint64_t> parked{0};          // parked requests now
  };

  // Takes ownership of `listen_fd`, a listening socket.
  ConnectionGate(int listen_fd, Limits limits, Hooks hooks);
  ~ConnectionGate();
  ConnectionGate(const ConnectionGate&) = delete;
  ConnectionGate& operator=(const ConnectionGate&) = delete;

  void start();

  // A worker is done with `conn`: its output (conn->out from out_pos) is written, then `then`.
  void hand_back(ConnectionPtr conn, Connection::Then then);
  // `conn` waits for `deferred` to be answered (answer()) until `deadline`, when the deferred
  // request is told to expire; if the client leaves first, it is abandoned.
  void park(ConnectionPtr conn, std::shared_ptr<DeferredResponse> deferred,
            Clock::time_point deadline);
  // The answer to the request parked on `conn`: written, then the connection goes on (or closes).
  void answer(ConnectionPtr conn, std::string bytes, bool close);

  // Shutdown, first step: no more connections; idle and incomplete ones are closed at once;
  // parked requests are told to expire; connections handed back later close after their output.
  void stop_accepting();
  // Blocks until no connection is left or `deadline` passes; true if none is left.
  bool wait_drained(Clock::time_point deadline);
  // Shutdown, second step: every connection still open is closed, and those a worker holds are
  // shut down so that its reads and writes fail at once; parked requests are abandoned.
  void close_all();
  // Shutdown, last step: ends the thread (call once the workers are done).
  void join();

  const Stats& stats() const { return stats_; }

 private:
  struct Command {
    enum class Kind { hand_back, park, answer, stop_accepting, close_all, quit } kind;
    ConnectionPtr conn;
    Connection::Then then = Connection::Then::close;
    std::shared_ptr<DeferredResponse> deferred;
    Clock::time_point deadline;
    std::string bytes;
  };

  void push(Command c);
  void run();
  void run_commands();
  void accept_all();
  void on_event(std::uint64_t id, std::uint32_t events);
  void read_head(const ConnectionPtr& c);
  // Dispatches the head at in_pos if it is complete, refuses it if it is too large, or waits.
  void check_head(const ConnectionPtr& c);
  // The connection waits for its next request (or serves one already buffered).
  void next_request(const ConnectionPtr& c);
  void write_out(const ConnectionPtr& c);
  void after_output(const ConnectionPtr& c);
  void linger(const ConnectionPtr& c);
  // Writes an error response, then lingers and closes.
  void refuse(const ConnectionPtr& c, int status, const char* code, const std::string& message);
  void expire_deadlines();
  void set_deadline(const ConnectionPtr& c, Clock::time_point at);
  void arm(const ConnectionPtr& c, std::uint32_t events);
  void close(const ConnectionPtr& c);
  void begin_stop();
  void close_everything();
  int wait_timeout_ms() const;

  int listen_fd_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  Limits limits_;
  Hooks hooks_;
  Stats stats_;
  std::thread thread_;

  std::mutex mu_;  // guards commands_, and drained_cv_'s predicate
  std::vector<Command> commands_;
  std::condition_variable drained_cv_;
  bool drained_ = false;
  bool joined_ = false;  // the thread has ended: commands are dropped

  // Gate thread only.
  std::unordered_map<std::uint64_t, ConnectionPtr> connections_;
  std::set<std::pair<Clock::time_point, std::uint64_t>> deadlines_;
  std::uint64_t next_id_ = 2;  // 0 and 1 tag the listening socket and the wake-up eventfd
  bool stopping_ = false;
  bool closing_all_ = false;
  bool quit_ = false;
  Clock::time_point accept_paused_until_ = Clock::time_point::min();
  bool accept_paused_ = false;
};

}  // namespace uasyncd::api
