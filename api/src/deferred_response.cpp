#include "uasyncd/api/deferred_response.hpp"

#include <utility>

#include "uasyncd/api/connection.hpp"
#include "uasyncd/api/connection_gate.hpp"

namespace uasyncd::api {

DeferredResponse::DeferredResponse(Setup setup, Options options)
    : setup_(std::move(setup)),
      deadline_(std::chrono::steady_clock::now() + options.timeout),
      options_(std::move(options)) {}

DeferredResponse::~DeferredResponse() = default;

std::chrono::steady_clock::time_point DeferredResponse::deadline() const {
  return deadline_;
}

bool DeferredResponse::pending() const {
  std::lock_guard lock(mu_);
  return state_ == State::handling || state_ == State::parked;
}

void DeferredResponse::finish(State to) {
  state_ = to;
  options_ = {};
  connection_.reset();
  setup_.outstanding->fetch_sub(1);
}

bool DeferredResponse::complete(const httplib::Response& res) {
  std::string bytes = response_bytes(res, setup_.connection, setup_.head_only);
  {
    std::lock_guard lock(mu_);
    if (state_ == State::answered || state_ == State::gone) return false;
    if (state_ == State::parked) {
      // Queued under mu_: the park command, queued under mu_ too, is ahead of it.
      setup_.gate->answer(connection_, std::move(bytes), setup_.connection.close);
    } else {
      answer_ = std::move(bytes);
    }
    finish(State::answered);
  }
  if (setup_.access_log) {
    setup_.access_log(setup_.request, res,
                      std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - setup_.started));
  }
  return true;
}

std::optional<std::string> DeferredResponse::park(std::shared_ptr<Connection> conn, bool& gone) {
  std::lock_guard lock(mu_);
  gone = state_ == State::gone;
  if (state_ == State::answered) return std::move(answer_);
  if (state_ == State::handling) {
    state_ = State::parked;
    connection_ = conn;
    setup_.gate->park(std::move(conn), shared_from_this(), deadline_);
  }
  return std::nullopt;
}

std::function<void()> DeferredResponse::expire() {
  std::lock_guard lock(mu_);
  if (state_ != State::parked || expired_) return nullptr;
  expired_ = true;
  return options_.on_timeout;
}

std::function<void()> DeferredResponse::abandon() {
  std::lock_guard lock(mu_);
  if (state_ != State::handling && state_ != State::parked) return nullptr;
  std::function<void()> on_gone = std::move(options_.on_gone);
  finish(State::gone);
  return on_gone;
}

}  // namespace uasyncd::api
