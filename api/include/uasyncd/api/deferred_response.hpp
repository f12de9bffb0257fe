// A request answered later, from any thread, without holding a worker thread while it waits: a
// long-poll. A handler calls HttpServer::defer() and keeps the handle; the transport then
// ignores the handler's Response, parks the connection in the gate, and writes whatever
// complete() is given, keeping the connection alive if the request allowed it.
//
// Thread rules: every public method is safe from any thread and never blocks on I/O.
// Lifetime: shared; holders may keep it past the request's end (complete() then returns false)
// and past the server's stop. The callbacks are dropped once the request is answered or gone,
// so they may hold what holds the handle.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "uasyncd/api/response_bytes.hpp"

namespace uasyncd::api {

class ConnectionGate;
struct Connection;

class DeferredResponse : public std::enable_shared_from_this<DeferredResponse> {
 public:
  struct Options {
    // When it passes, on_timeout runs (on the gate thread: it must not block); its owner should
    // then complete() soon with what it has, or the request is abandoned after a grace.
    std::chrono::milliseconds timeout{30000};
    std::function<void()> on_timeout;
    // The request will never be answered: its client left, its owner did not answer in time, or
    // the server is stopping. Runs at most once, on any thread; must not block. Release what
    // waits to answer it.
    std::function<void()> on_gone;
  };
  using AccessLog = std::function<void(const httplib::Request&, const httplib::Response&,
                                       std::chrono::microseconds)>;

  // Writes `res` (status, headers, body; no content provider) as the answer. False if the
  // request was already answered or is gone.
  bool complete(const httplib::Response& res);
  // True until the request is answered or gone.
  bool pending() const;

  // Made by HttpServer::defer() only.
  struct Setup {
    std::shared_ptr<ConnectionGate> gate;
    httplib::Request request;  // method, path, version, remote address: for the access log
    ConnectionPolicy connection;
    bool head_only = false;
    std::chrono::steady_clock::time_point started;
    AccessLog access_log;
    std::shared_ptr<std::atomic<std::size_t>> outstanding;  // decremented when answered or gone
  };
  DeferredResponse(Setup setup, Options options);
  ~DeferredResponse();
  DeferredResponse(const DeferredResponse&) = delete;
  DeferredResponse& operator=(const DeferredResponse&) = delete;

  // Transport side. The worker that ran the handler, once the request is done: parks `conn`
  // in the gate, or returns the answer if it came already (nullopt if it was parked, or if the
  // request is gone: then `gone` is set and the connection must close).
  std::optional<std::string> park(std::shared_ptr<Connection> conn, bool& gone);
  // The gate: the deadline passed. Returns on_timeout to run, the first time.
  std::function<void()> expire();
  // The gate or the worker: the request is dropped. Returns on_gone to run, the first time.
  std::function<void()> abandon();
  // Whether the answer closes the connection.
  bool closes_connection() const { return setup_.connection.close; }
  std::chrono::steady_clock::time_point deadline() const;

 private:
  enum class State { handling, parked, answered, gone };
  // Called with mu_ held, once the request leaves handling/parked.
  void finish(State to);

  const Setup setup_;
  const std::chrono::steady_clock::time_point deadline_;
  mutable std::mutex mu_;
  State state_ = State::handling;
  Options options_;                         // callbacks: cleared by finish()
  std::shared_ptr<Connection> connection_;  // while parked
  std::string answer_;                      // answered while still handling
  bool expired_ = false;
};

}  // namespace uasyncd::api
