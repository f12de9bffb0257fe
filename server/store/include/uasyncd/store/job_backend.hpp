// Where task records are kept. The service talks to this interface only, so a durable store
// (SQLite) can replace the in-memory one without touching the rest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "uasyncd/api/task_record.hpp"

namespace uasyncd::server {

using TaskPtr = std::shared_ptr<api::TaskRecord>;

class TaskRegistry {
 public:
  virtual ~TaskRegistry() = default;
  virtual void add(TaskPtr task) = 0;
  virtual TaskPtr find(std::uint64_t seq) const = 0;
  virtual bool erase(std::uint64_t seq) = 0;
  // Visits tasks newest first, starting below `before` (exclusive); stops when `visit` is false.
  virtual void visit_newest_first(std::optional<std::uint64_t> before,
                                  const std::function<bool(const TaskPtr&)>& visit) const = 0;
  virtual std::size_t size() const = 0;
};

std::unique_ptr<TaskRegistry> make_memory_registry();

}  // namespace uasyncd::server
