#include "pg_pool.hpp"

#include <utility>

namespace uasyncd::server::pg {

Pool::Lease Pool::take() {
  std::unique_ptr<Connection> conn;
  {
    std::unique_lock lock(m_);
    returned_.wait(lock, [&] { return !idle_.empty() || opened_ < size_; });
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    } else {
      ++opened_;  // counted now, opened below without the lock (a connect may take seconds)
    }
  }
  if (!conn) {
    try {
      conn = std::make_unique<Connection>(url_);
    } catch (...) {
      std::lock_guard lock(m_);
      --opened_;
      returned_.notify_one();
      throw;
    }
  }
  if (!conn->reconnect()) {
    const std::string where = conn->where();
    give_back(std::move(conn));  // kept: its next user tries again
    throw StoreError(where + ": the connection is lost");
  }
  return Lease(*this, std::move(conn));
}

void Pool::give_back(std::unique_ptr<Connection> conn) {
  std::lock_guard lock(m_);
  idle_.push_back(std::move(conn));
  returned_.notify_one();
}

}  // namespace uasyncd::server::pg
