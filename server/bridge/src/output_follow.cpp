// Exec output on the shared event stream (PUT /api/events/{stream}/follow): each open stream
// follows a set of jobs and steps; the job service passes their output to it as SSE frames.
#include <algorithm>
#include <map>
#include <utility>

#include "uasyncd/bridge/job_bridge.hpp"
#include "uasyncd/job/job_json.hpp"

namespace uasyncd::server {

using nlohmann::json;

OutputFollower JobBridge::output_frames(const std::shared_ptr<SseChannel>& channel) const {
  return OutputFollower{[channel](const OutputChunk& c) {
                          // The job's id is the step id's part before the dot.
                          const std::string id = c.step_id.substr(0, c.step_id.find('.'));
                          return channel->push_frame(
                              sse_frame("output", {{"id", id},
                                                   {"step", c.step_id},
                                                   {"stream", c.is_stderr ? "stderr" : "stdout"},
                                                   {"data", c.data},
                                                   {"offset", c.offset}}));
                        },
                        [channel](const OutputEnd& e) {
                          channel->push_frame(sse_frame(
                              "output-end", {{"id", e.job_id}, {"state", state_name(e.state)}}));
                        }};
}

bool JobBridge::open_event_stream(const std::string& id, std::shared_ptr<SseChannel> channel) {
  if (!streams_.add(id, channel)) return false;
  events_.subscribe(std::move(channel));
  if (options_.watching) options_.watching();
  return true;
}

void JobBridge::close_event_stream(const std::string& id) {
  std::shared_ptr<EventStreams::Stream> stream = streams_.remove(id);
  if (!stream) return;
  // A stopping loop drops this: its followers go with the service.
  loop_.post([this, stream] {
    for (const auto& [text, f] : stream->following) {
      if (f.key != 0) service_->unfollow_output(f.job_id, f.key);
    }
    stream->following.clear();
  });
}

Result<Following> JobBridge::follow(const std::string& stream_id, const std::vector<JobRef>& refs) {
  std::shared_ptr<EventStreams::Stream> stream = streams_.find(stream_id);
  if (!stream) return JobError{JobErrorCode::not_found, "no open event stream " + stream_id};
  std::map<std::string, JobRef> wanted;
  for (const JobRef& ref : refs)
    wanted.emplace(ref_text(ref), ref);
  if (wanted.size() > kMaxFollowed) {
    return JobError{JobErrorCode::invalid,
                    "at most " + std::to_string(kMaxFollowed) + " tasks or steps can be followed"};
  }
  // One loop turn: the ids that left the set stop, the new ones start with what they have
  // published so far; no chunk can come in between.
  Result<FollowRegistered> r = on_loop<FollowRegistered>([this, stream, wanted](JobService& s) {
    FollowRegistered out;
    std::erase_if(stream->following, [&](const auto& entry) {
      if (wanted.contains(entry.first)) return false;
      if (entry.second.key != 0) s.unfollow_output(entry.second.job_id, entry.second.key);
      return true;
    });
    for (const auto& [text, ref] : wanted) {
      if (stream->following.contains(text)) continue;
      const std::uint64_t key = ++follow_keys_;
      Result<Done> done = s.follow_output(ref, output_frames(stream->channel), key);
      if (done) {
        stream->following[text] = {ref.id, key};
      } else if (done.is(JobErrorCode::not_live)) {
        stream->following[text] = {ref.id, 0};
        out.stored.push_back(ref);
      } else {
        out.unknown.push_back(text);
      }
    }
    return Result<FollowRegistered>(std::move(out));
  });
  if (!r) return r.error();
  Following out;
  out.unknown = std::move(r->unknown);
  std::vector<std::string> gone;
  for (const JobRef& ref : r->stored) {
    // Finished and stored: its output and its end at once (nothing more can come).
    if (!stored_.follow_output(ref, output_frames(stream->channel))) gone.push_back(ref_text(ref));
  }
  if (!gone.empty()) {
    loop_.post([stream, gone] {
      for (const std::string& text : gone)
        stream->following.erase(text);
    });
    out.unknown.insert(out.unknown.end(), gone.begin(), gone.end());
  }
  for (const auto& [text, ref] : wanted) {
    if (std::find(out.unknown.begin(), out.unknown.end(), text) == out.unknown.end()) {
      out.following.push_back(text);
    }
  }
  std::sort(out.unknown.begin(), out.unknown.end());
  return out;
}

}  // namespace uasyncd::server
