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
  virtual void changed(const api::TaskRecord& task) = 0;
  virtual void erased(std::uint64_t seq) = 0;
};

}  // namespace uasyncd::server
