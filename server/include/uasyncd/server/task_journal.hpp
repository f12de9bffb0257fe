// What the task service tells durable storage: every new task, change of state or outcome, and
// forgotten task. Called on the loop thread only, so an implementation must not block.
#pragma once

#include <cstdint>

#include "uasyncd/api/task_record.hpp"

namespace uasyncd::server {

class TaskJournal {
 public:
  virtual ~TaskJournal() = default;
  // A new task, before it starts.
  virtual void submitted(const api::TaskRecord& task) = 0;
  // `with_output`: an exec step has ended since the last call, so its output is written too
  // (output is written when a step ends, never per chunk).
  virtual void changed(const api::TaskRecord& task, bool with_output = false) = 0;
  virtual void erased(std::uint64_t seq) = 0;
};

}  // namespace uasyncd::server
