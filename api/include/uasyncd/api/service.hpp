// What the HTTP routes need from the daemon. Every method may be called from any HTTP handler
// thread at once; the implementation hands the work to the loop thread that owns the tasks.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "uasyncd/api/spec.hpp"
#include "uasyncd/api/sse_channel.hpp"
#include "uasyncd/api/task_record.hpp"

namespace uasyncd::api {

struct Reply {
  Reply() = default;
  Reply(int status_code, nlohmann::json json_body)
      : status(status_code), body(std::move(json_body)) {}
  // A 200 whose body was serialized before (a cached finished task), sent as it is.
  static Reply serialized(std::shared_ptr<const std::string> raw) {
    Reply r;
    r.raw_body = std::move(raw);
    return r;
  }

  int status = 200;
  nlohmann::json body;
  std::shared_ptr<const std::string> raw_body;  // when set, `body` is unused
};

// {"error": {"code", "message"}} with its HTTP status.
Reply error_reply(int status, std::string code, std::string message);

struct ListQuery {
  std::optional<State> state;
  std::optional<std::string> name;
  std::size_t limit = 100;
  std::optional<std::uint64_t> before;  // the cursor: list tasks older than this one
};

// "t12" -> 12 (a task id); "t12.3" -> 12 and step 3. Nullopt for anything else.
struct TaskRef {
  std::uint64_t seq = 0;
  std::optional<std::size_t> step;
};
std::optional<TaskRef> parse_task_ref(std::string_view id);

// A long-poll waiting for a task's end. The service answers it once, on whatever thread it is
// on (the loop thread, mostly): answer() must not block.
class TaskWaiter {
 public:
  virtual ~TaskWaiter() = default;
  virtual void answer(Reply reply) = 0;
};

class Service {
 public:
  virtual ~Service() = default;
  virtual Reply submit(Spec spec, nlohmann::json spec_json) = 0;
  virtual Reply list(const ListQuery& query) = 0;
  virtual Reply get(const std::string& id) = 0;
  // Long-poll, without blocking: `waiter` is answered with the finished task (200) as soon as it
  // is finished (at once if it is), or with the refusal (404, 503).
  virtual void wait(const std::string& id, std::shared_ptr<TaskWaiter> waiter) = 0;
  // Ends a wait() early, without blocking. `answer_now`: the poll's time is up, `waiter` is
  // answered with the task as it is (202 while unfinished); otherwise its client left and it is
  // forgotten unanswered. Nothing happens if it was answered already.
  virtual void end_wait(const std::string& id, std::shared_ptr<TaskWaiter> waiter,
                        bool answer_now) = 0;
  virtual Reply cancel(const std::string& id) = 0;
  virtual Reply set_timeout(const std::string& id, double timeout_s) = 0;
  virtual Reply remove(const std::string& id) = 0;
  virtual Reply stats() = 0;
  // The exec output of a task (or of one step): everything kept so far.
  virtual Reply output(const std::string& id) = 0;
  // 200 once `channel` is subscribed to the output: it gets the output so far, then each chunk
  // as it arrives (JSON items {"step", "stream", "data"}), then an end item, then is closed.
  virtual Reply follow_output(const std::string& id, std::shared_ptr<SseChannel> channel) = 0;
  // Subscribes `channel` to task transitions (JSON items, one per transition).
  virtual Reply subscribe_events(std::shared_ptr<SseChannel> channel) = 0;
  // Prometheus text about tasks and the loop (the routes add the HTTP counters).
  virtual std::optional<std::string> metrics() = 0;
};

}  // namespace uasyncd::api
