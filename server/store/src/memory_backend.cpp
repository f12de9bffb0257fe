#include <map>
#include <utility>

#include "uasyncd/server/registry.hpp"

namespace uasyncd::server {
namespace {

// Ordered by submission number, which is also the id, so listing newest first is a reverse walk.
class MemoryRegistry final : public TaskRegistry {
 public:
  void add(TaskPtr task) override {
    const std::uint64_t seq = task->seq;
    tasks_.emplace(seq, std::move(task));
  }
  TaskPtr find(std::uint64_t seq) const override {
    auto it = tasks_.find(seq);
    return it == tasks_.end() ? nullptr : it->second;
  }
  bool erase(std::uint64_t seq) override { return tasks_.erase(seq) > 0; }
  void visit_newest_first(std::optional<std::uint64_t> before,
                          const std::function<bool(const TaskPtr&)>& visit) const override {
    auto it = before ? tasks_.lower_bound(*before) : tasks_.end();
    while (it != tasks_.begin()) {
      --it;
      if (!visit(it->second)) return;
    }
  }
  std::size_t size() const override { return tasks_.size(); }

 private:
  std::map<std::uint64_t, TaskPtr> tasks_;
};

}  // namespace

std::unique_ptr<TaskRegistry> make_memory_registry() {
  return std::make_unique<MemoryRegistry>();
}

}  // namespace uasyncd::server
