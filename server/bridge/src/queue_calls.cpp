// JobBridge's calls for named queues: each runs on the loop (the JobService owns the queues);
// a change then waits, on the caller's thread, for its write's commit.
#include <utility>

#include "uasyncd/bridge/job_bridge.hpp"

namespace uasyncd::server {
namespace {

using nlohmann::json;
using JsonAndTicket = std::pair<json, WriteTicket>;

}  // namespace

Result<json> JobBridge::list_queues() {
  Result<JsonAndTicket> r = on_loop<JsonAndTicket>([](JobService& s) -> Result<JsonAndTicket> {
    return JsonAndTicket{json{{"queues", s.queue_list()}}, 0};
  });
  if (!r) return r.error();
  return std::move(r.value().first);
}

Result<json> JobBridge::get_queue(const std::string& name) {
  Result<JsonAndTicket> r = on_loop<JsonAndTicket>([name](JobService& s) -> Result<JsonAndTicket> {
    Result<json> q = s.queue(name);
    if (!q) return q.error();
    return JsonAndTicket{std::move(q.value()), 0};
  });
  if (!r) return r.error();
  return std::move(r.value().first);
}

Result<json> JobBridge::set_queue(const std::string& name, std::optional<std::size_t> max_running,
                                  std::optional<bool> paused) {
  Result<JsonAndTicket> r =
      on_loop<JsonAndTicket>([name, max_running, paused](JobService& s) -> Result<JsonAndTicket> {
        WriteTicket ticket = 0;
        Result<json> q = s.set_queue(name, max_running, paused, ticket);
        if (!q) return q.error();
        return JsonAndTicket{std::move(q.value()), ticket};
      });
  if (!r) return r.error();
  if (Result<Done> c = committed_or_unavailable(r.value().second); !c) return c.error();
  return std::move(r.value().first);
}

}  // namespace uasyncd::server
