// Cluster mode: what the cluster's thread hands the loop (pg_cluster.hpp). Posted, never waited
// for: the cluster's thread must go on renewing the lease whatever the loop does.
#include "uasyncd/bridge/job_bridge.hpp"

#include "uasyncd/store/store_error.hpp"

namespace uasyncd::server {

bool JobBridge::adopt(std::vector<ClaimedRow> rows) {
  if (stopping_.load()) return false;
  return loop_.post([this, rows = std::move(rows)]() mutable {
    if (service_) service_->adopt(std::move(rows));
  });
}

bool JobBridge::cancel_requested(std::vector<std::uint64_t> ids) {
  if (stopping_.load()) return false;
  return loop_.post([this, ids = std::move(ids)] {
    if (service_) service_->cancel_requested(ids);
  });
}

bool JobBridge::remote_request(RemoteRequest::Kind kind, std::uint64_t id, std::int64_t value,
                               std::function<void(std::string code, std::string message)> answer) {
  if (stopping_.load()) return false;
  return loop_.post([this, kind, id, value, answer = std::move(answer)] {
    if (!service_) return;
    Result<nlohmann::json> r = JobError{JobErrorCode::internal, ""};
    if (kind == RemoteRequest::Kind::timeout) {
      r = service_->set_timeout(JobRef{id, std::nullopt}, static_cast<double>(value) / 1000.0);
    } else {
      r = service_->cancel(JobRef{id, static_cast<std::size_t>(value)});
    }
    if (r) {
      answer("ok", "");
    } else if (r.is(JobErrorCode::finished)) {
      answer("finished", r.error().message);
    } else if (r.is(JobErrorCode::not_live)) {
      std::string why = "t";  // (appended: GCC PR 105329's false -Wrestrict at -O3)
      why += std::to_string(id);
      why += " is not held by the instance asked any more";
      answer("gone", std::move(why));
    } else {
      answer("refused", r.error().message);
    }
  });
}

bool JobBridge::lease_lost() {
  return loop_.post([this] {
    if (service_) service_->abandon_all();
  });
}

void JobBridge::publish_remote(std::vector<std::string> events) {
  for (const std::string& text : events) {
    // Another uasyncd's own output, but a database anyone may NOTIFY on: checked as any input.
    nlohmann::json event = nlohmann::json::parse(text, nullptr, false);
    if (!event.is_object() || !event.contains("type") || !event.contains("id")) continue;
    events_.publish(event);
    const nlohmann::json& id = event["id"];
    if (remote_waits_ && event["type"] == "finished" && id.is_string()) {
      if (std::optional<JobRef> ref = parse_job_ref(id.get<std::string>())) {
        remote_waits_->finished(ref->id);
      }
    }
  }
}

Result<nlohmann::json> JobBridge::instances() {
  if (!options_.instances) {
    // Not a cluster: this daemon is the only instance.
    nlohmann::json self = {{"id", 0},
                           {"name", "local"},
                           {"running", running()},
                           {"heartbeat_age", 0},
                           {"stopping", stopping_.load()},
                           {"self", true}};
    return nlohmann::json{{"cluster", false}, {"instances", nlohmann::json::array({self})}};
  }
  try {
    return nlohmann::json{{"cluster", true}, {"instances", options_.instances()}};
  } catch (const StoreError& e) {
    return JobError{JobErrorCode::unavailable, e.what()};
  }
}

}  // namespace uasyncd::server
