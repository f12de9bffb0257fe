// The --ephemeral backend: rows in RAM, indexed by id, state, name and finish time, so that
// every list by state or name and every retention step costs O(page) or O(removed), never
// O(retained); only a name_contains filter and the counts of a list walk the matching rows.
#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

#include "state_tally.hpp"
#include "uasyncd/store/job_backend.hpp"
#include "uasyncd/store/list_pager.hpp"

namespace uasyncd::server {
namespace {

// Retention removes at most this many rows per write, so no write stalls the loop thread for
// long; a backlog (a lowered limit) drains over the next writes.
constexpr std::size_t kTrimmedPerPass = 256;

class MemoryBackend final : public JobBackend {
 public:
  explicit MemoryBackend(BackendOptions options) : options_(std::move(options)) {}

  std::uint64_t next_id() override { return ++last_id_; }

  WriteTicket insert(const Job& job) override {
    const Job* one[] = {&job};
    return insert_all(one);
  }

  // Under one lock: a reader sees all of a batch or none of it.
  WriteTicket insert_all(std::span<const Job* const> jobs) override {
    std::vector<JobRow> rows;
    rows.reserve(jobs.size());
    for (const Job* job : jobs)
      rows.push_back(row_of(*job, true));
    std::vector<RemovedJob> removed;
    {
      std::unique_lock lock = lock_to_write();
      for (JobRow& row : rows) {
        const std::uint64_t id = row.id;
        by_state_[index(row.state)].insert(id);
        by_name_[row.name].insert(id);
        if (!row.idempotency_key.empty()) by_key_.insert_or_assign(row.idempotency_key, id);
        if (is_final(row.state)) finished_.emplace(row.finished_ms, id);
        tally_.add(row.state);
        rows_.insert_or_assign(id, std::move(row));
      }
      removed = retain();
    }
    return after_write(removed);
  }

  WriteTicket update(Job& job, JobState, bool with_output) override {
    JobRow row = row_of(job, false);
    if (with_output) add_new_outputs(job, row);
    std::vector<RemovedJob> removed;
    {
      std::unique_lock lock = lock_to_write();
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
      for (const StepOutput& o : row.outputs)
        stats_.output_bytes += o.body.size();
      apply_update(stored, std::move(row));
      removed = retain();
    }
    return after_write(removed);
  }

  WriteTicket erase(std::uint64_t id, JobState) override {
    std::unique_lock lock = lock_to_write();
    drop(id);
    ++stats_.rows;
    return 0;
  }

  WriteTicket put_setting(const SettingRow& row) override {
    std::lock_guard lock(settings_mu_);
    const auto key = std::make_pair(row.kind, row.name);
    if (row.erase) {
      settings_.erase(key);
    } else {
      settings_.insert_or_assign(key, row);
    }
    return 0;
  }

  // The job first: a reader that finds the schedule fired finds its task.
  WriteTicket insert_fired(const Job& job, const SettingRow& schedule) override {
    insert(job);
    return put_setting(schedule);
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
    Source source(*this, q);
    return list_page(q, source);
  }

  StateCounts counts() const override { return tally_.get(); }

  std::vector<JobRow> load_live() override { return {}; }  // nothing survives a restart

  // What this object holds (a service started again over the same backend finds its settings).
  std::vector<SettingRow> load_settings(SettingKind kind) override {
    std::lock_guard lock(settings_mu_);
    std::vector<SettingRow> out;
    for (const auto& [key, row] : settings_) {
      if (key.first == kind) out.push_back(row);
    }
    return out;
  }

  BackendStats stats() const override {
    std::lock_guard lock(mu_);
    return stats_;
  }

  void close() override {}

 private:
  static std::size_t index(JobState s) { return static_cast<std::size_t>(s); }

  // Writers say that they wait, so that a long walk of a list lets them in between its chunks:
  // a search of 100,000 rows must not hold the loop thread's writes for its whole length.
  std::unique_lock<std::mutex> lock_to_write() {
    writers_waiting_.fetch_add(1, std::memory_order_relaxed);
    std::unique_lock lock(mu_);
    writers_waiting_.fetch_sub(1, std::memory_order_relaxed);
    return lock;
  }

  // The rows of a list. Each walk goes over the smallest index that answers the filter, in id
  // order from the range's end, and stops after what it needs; it holds mu_ for at most
  // kWalkChunk rows at a time (so a page and its counts may see writes made in between).
  class Source final : public ListSource {
   public:
    Source(MemoryBackend& b, const ListQuery& q) : b_(b) {
      if (q.name_contains) folded_ = fold_ascii(*q.name_contains);
    }

    std::vector<JobSummary> scan(const ListQuery& q, IdRange range, bool newest_first,
                                 std::size_t limit) override {
      std::vector<JobSummary> out;
      walk(q, range, newest_first, [&](std::uint64_t id, const JobRow* row) {
        out.push_back(summary_of(row != nullptr ? *row : b_.rows_.at(id)));
        return out.size() < limit;
      });
      return out;
    }

    std::uint64_t count(const ListQuery& q, IdRange range, std::uint64_t cap) override {
      std::uint64_t n = 0;
      walk(q, range, true, [&](std::uint64_t, const JobRow*) { return ++n <= cap; });
      return n;
    }

    std::optional<std::uint64_t> kept_count(const ListQuery& q) override {
      if (q.name_contains || (q.state && q.name)) return std::nullopt;
      std::lock_guard lock(b_.mu_);
      if (q.state) return b_.by_state_[index(*q.state)].size();
      if (q.name) {
        auto it = b_.by_name_.find(*q.name);
        return it == b_.by_name_.end() ? 0 : it->second.size();
      }
      return b_.rows_.size();
    }

   private:
    static constexpr std::size_t kWalkChunk = 4096;

    bool matches(const ListQuery& q, const JobRow& row) const {
      return (!q.state || row.state == *q.state) && (!q.name || row.name == *q.name) &&
             (!q.name_contains || name_contains(row.name, folded_));
    }

    // Calls visit(id, row) with each matching row in `range` until it returns false; `row` is
    // null when the index alone answered the filter (the row was not looked up).
    template <class Visit>
    void walk(const ListQuery& q, IdRange range, bool newest_first, Visit visit) {
      std::unique_lock lock(b_.mu_);
      for (;;) {
        // Picked again after each pause: the set of a name may have gone meanwhile.
        const std::set<std::uint64_t>* ids = q.state ? &b_.by_state_[index(*q.state)] : nullptr;
        if (q.name) {
          auto it = b_.by_name_.find(*q.name);
          if (it == b_.by_name_.end()) return;
          if (!ids || it->second.size() < ids->size()) ids = &it->second;
        }
        const bool exact = ids != nullptr && !q.name_contains && !(q.state && q.name);
        Chunk chunk;
        if (ids) {
          chunk = walk_chunk(
              *ids, range, newest_first,
              [&](std::uint64_t id) -> const JobRow* { return exact ? nullptr : &b_.rows_.at(id); },
              [](std::uint64_t id) { return id; }, q, visit);
        } else {
          chunk = walk_chunk(
              b_.rows_, range, newest_first,
              [](const std::pair<const std::uint64_t, JobRow>& e) { return &e.second; },
              [](const std::pair<const std::uint64_t, JobRow>& e) { return e.first; }, q, visit);
        }
        if (!chunk.more) return;
        (newest_first ? range.below : range.above) = chunk.last;
        if (b_.writers_waiting_.load(std::memory_order_relaxed) > 0) {
          lock.unlock();
          while (b_.writers_waiting_.load(std::memory_order_relaxed) > 0)
            std::this_thread::yield();
          lock.lock();
        }
      }
    }

    struct Chunk {
      bool more = false;       // stopped at kWalkChunk rows: go on past `last`
      std::uint64_t last = 0;  // the last id looked at
    };

    template <class Sorted, class RowOf, class IdOf, class Visit>
    Chunk walk_chunk(const Sorted& sorted, IdRange range, bool newest_first, RowOf row_of,
                     IdOf id_of, const ListQuery& q, Visit& visit) {
      std::size_t seen = 0;
      const auto look = [&](const auto& entry, Chunk& out) {
        const std::uint64_t id = id_of(entry);
        if (newest_first ? id <= range.above : id >= range.below) return false;
        const JobRow* row = row_of(entry);
        out.last = id;
        if ((row == nullptr || matches(q, *row)) && !visit(id, row)) return false;
        if (++seen == kWalkChunk) {
          out.more = true;
          return false;
        }
        return true;
      };
      Chunk out;
      if (newest_first) {
        for (auto it = sorted.lower_bound(range.below); it != sorted.begin();) {
          if (!look(*--it, out)) break;
        }
      } else {
        for (auto it = sorted.upper_bound(range.above); it != sorted.end(); ++it) {
          if (!look(*it, out)) break;
        }
      }
      return out;
    }

    MemoryBackend& b_;
    std::string folded_;
  };

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
  std::vector<RemovedJob> retain() {
    std::vector<RemovedJob> removed;
    const Retention& r = options_.retention;
    const std::int64_t cutoff =
        r.keep_for ? wall_ms() - static_cast<std::int64_t>(r.keep_for->count()) : INT64_MIN;
    while (!finished_.empty() && removed.size() < kTrimmedPerPass &&
           (finished_.size() > r.keep_finished || finished_.begin()->first < cutoff)) {
      const std::uint64_t id = finished_.begin()->second;
      removed.push_back({id, rows_.at(id).state});
      drop(id);
    }
    stats_.removed += removed.size();
    ++stats_.commits;
    ++stats_.rows;
    return removed;
  }

  WriteTicket after_write(const std::vector<RemovedJob>& removed) {
    if (!removed.empty() && options_.on_removed) options_.on_removed(removed);
    return 0;
  }

  BackendOptions options_;
  std::uint64_t last_id_ = 0;  // loop thread only
  mutable std::mutex mu_;
  std::atomic<int> writers_waiting_{0};
  std::map<std::uint64_t, JobRow> rows_;
  // Its own lock: settings are few and written rarely, never under a list's walk.
  std::mutex settings_mu_;
  std::map<std::pair<SettingKind, std::string>, SettingRow> settings_;
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
