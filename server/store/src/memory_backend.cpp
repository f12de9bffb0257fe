// The --ephemeral backend: rows in RAM, indexed by id, state, name and finish time, so that
// every list and every retention step costs O(page) or O(removed), never O(retained).
#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>
#include <utility>

#include "state_tally.hpp"
#include "uasyncd/store/job_backend.hpp"

namespace uasyncd::server {
namespace {

// Retention removes at most this many rows per write, so no write stalls the loop thread for
// long; a backlog (a lowered limit) drains over the next writes.
constexpr std::size_t kRetentionBatch = 256;

class MemoryBackend final : public JobBackend {
 public:
  explicit MemoryBackend(BackendOptions options) : options_(std::move(options)) {}

  std::uint64_t next_id() override { return ++last_id_; }

  WriteTicket insert(const Job& job) override {
    JobRow row = row_of(job, true);
    std::vector<std::uint64_t> removed;
    {
      std::lock_guard lock(mu_);
      const std::uint64_t id = row.id;
      by_state_[index(row.state)].insert(id);
      by_name_[row.name].insert(id);
      if (!row.idempotency_key.empty()) by_key_.insert_or_assign(row.idempotency_key, id);
      if (is_final(row.state)) finished_.emplace(row.finished_ms, id);
      tally_.add(row.state);
      rows_.insert_or_assign(id, std::move(row));
      removed = retain();
    }
    return after_write(removed);
  }

  WriteTicket update(const Job& job, JobState, bool with_output) override {
    JobRow row = row_of(job, false, with_output);
    std::vector<std::uint64_t> removed;
    {
      std::lock_guard lock(mu_);
      auto it = rows_.find(row.id);
      if (it == rows_.end()) return 0;
      JobRow& stored = it->second;
      if (stored.attempts > row.attempts) {
        ++stats_.fenced;
        return 0;
      }
      if (stored.state != row.state) {
        by_state_[index(stored.state)].erase(row.id);
        by_state_[index(row.state)].insert(row.id);
      }
      if (is_final(stored.state)) finished_.erase({stored.finished_ms, row.id});
      if (is_final(row.state)) finished_.emplace(row.finished_ms, row.id);
      tally_.move(stored.state, row.state);
      apply_update(stored, std::move(row));
      removed = retain();
    }
    return after_write(removed);
  }

  WriteTicket erase(std::uint64_t id, JobState) override {
    std::lock_guard lock(mu_);
    drop(id);
    ++stats_.rows;
    return 0;
  }

  bool committed(WriteTicket) const override { return true; }
  bool wait_committed(WriteTicket, std::chrono::milliseconds) override { return true; }

  std::optional<JobRow> get(std::uint64_t id) override {
    std::lock_guard lock(mu_);
    auto it = rows_.find(id);
    if (it == rows_.end()) return std::nullopt;
    return it->second;
  }

  std::optional<std::uint64_t> find_by_key(const std::string& key) override {
    std::lock_guard lock(mu_);
    auto it = by_key_.find(key);
    if (it == by_key_.end()) return std::nullopt;
    return it->second;
  }

  ListPage list(const ListQuery& q) override {
    std::lock_guard lock(mu_);
    const std::set<std::uint64_t>* by_state = q.state ? &by_state_[index(*q.state)] : nullptr;
    const std::set<std::uint64_t>* by_name = nullptr;
    if (q.name) {
      auto it = by_name_.find(*q.name);
      if (it == by_name_.end()) return {};
      by_name = &it->second;
    }
    ListPage page;
    const auto take = [&](std::uint64_t id) {
      const JobRow& row = rows_.at(id);
      if (q.state && row.state != *q.state) return true;
      if (q.name && row.name != *q.name) return true;
      if (page.jobs.size() == q.limit) {
        page.next_cursor = page.jobs.back().id;
        return false;
      }
      page.jobs.push_back(summary_of(row));
      return true;
    };
    // Walk the smallest index that answers the query, newest first, from the cursor.
    const std::set<std::uint64_t>* walk = by_state;
    if (by_name && (!walk || by_name->size() < walk->size())) walk = by_name;
    if (walk) {
      auto it = q.before ? walk->lower_bound(*q.before) : walk->end();
      while (it != walk->begin() && take(*--it)) {
      }
    } else {
      auto it = q.before ? rows_.lower_bound(*q.before) : rows_.end();
      while (it != rows_.begin() && take((--it)->first)) {
      }
    }
    return page;
  }

  StateCounts counts() const override { return tally_.get(); }

  std::vector<JobRow> load_live() override { return {}; }  // nothing survives a restart

  BackendStats stats() const override {
    std::lock_guard lock(mu_);
    return stats_;
  }

  void close() override {}

 private:
  static std::size_t index(JobState s) { return static_cast<std::size_t>(s); }

  void drop(std::uint64_t id) {
    auto it = rows_.find(id);
    if (it == rows_.end()) return;
    const JobRow& row = it->second;
    by_state_[index(row.state)].erase(id);
    if (auto n = by_name_.find(row.name); n != by_name_.end()) {
      n->second.erase(id);
      if (n->second.empty()) by_name_.erase(n);
    }
    if (is_final(row.state)) finished_.erase({row.finished_ms, id});
    if (auto k = by_key_.find(row.idempotency_key); k != by_key_.end() && k->second == id) {
      by_key_.erase(k);
    }
    tally_.add(row.state, -1);
    rows_.erase(it);
  }

  // Under mu_: removes up to a batch of finished rows past the retention limits.
  std::vector<std::uint64_t> retain() {
    std::vector<std::uint64_t> removed;
    const Retention& r = options_.retention;
    const std::int64_t cutoff =
        r.keep_for ? wall_ms() - static_cast<std::int64_t>(r.keep_for->count()) : INT64_MIN;
    while (!finished_.empty() && removed.size() < kRetentionBatch &&
           (finished_.size() > r.keep_finished || finished_.begin()->first < cutoff)) {
      const std::uint64_t id = finished_.begin()->second;
      drop(id);
      removed.push_back(id);
    }
    stats_.removed += removed.size();
    ++stats_.commits;
    ++stats_.rows;
    return removed;
  }

  WriteTicket after_write(const std::vector<std::uint64_t>& removed) {
    if (!removed.empty() && options_.on_removed) options_.on_removed(removed);
    return 0;
  }

  BackendOptions options_;
  std::uint64_t last_id_ = 0;  // loop thread only
  mutable std::mutex mu_;
  std::map<std::uint64_t, JobRow> rows_;
  std::array<std::set<std::uint64_t>, kAllJobStates.size()> by_state_;
  std::unordered_map<std::string, std::set<std::uint64_t>> by_name_;
  std::unordered_map<std::string, std::uint64_t> by_key_;      // Idempotency-Key -> job
  std::set<std::pair<std::int64_t, std::uint64_t>> finished_;  // (finished_ms, id)
  StateTally tally_;
  BackendStats stats_;
};

}  // namespace

std::unique_ptr<JobBackend> make_memory_backend(BackendOptions options) {
  return std::make_unique<MemoryBackend>(std::move(options));
}

}  // namespace uasyncd::server
