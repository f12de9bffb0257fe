// The durable backend: counts kept as writes are made, group commits by the writer thread,
// reads through the store's own reader connections.
#include "durable_backend.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <utility>

#include "group_writer.hpp"
#include "state_tally.hpp"

namespace uasyncd::server {
namespace {

// Rows deleted per transaction by the retention applied at start.
constexpr std::size_t kStartRetentionBatch = 10'000;

class DurableBackend final : public JobBackend {
 public:
  DurableBackend(std::unique_ptr<DurableStore> store,
                 const std::function<std::unique_ptr<StoreReaders>()>& open_readers,
                 BackendOptions options) {
    path_ = store->where();
    const StateCounts counts = store->count_states();
    for (JobState s : kAllJobStates)
      tally_.add(s, static_cast<std::int64_t>(counts[static_cast<std::size_t>(s)]));
    const std::uint64_t max_id = store->max_id();
    last_id_ = max_id;
    // Retention before anything is read: rows it would drop at once are never served.
    const std::size_t trimmed = trim_at_start(*store, options.retention, max_id);
    if (trimmed > 0) {
      spdlog::info("{}: {} old finished tasks deleted (--keep-finished, --keep-for)", path_,
                   trimmed);
    }
    live_ = store->load_live();
    last_alive_ms_ = store->alive_ms();
    settings_ = store->load_settings();
    std::uint64_t total = 0;
    for (std::uint64_t n : tally_.get())
      total += n;
    spdlog::info("task store {}: {} tasks ({} live)", path_, total, live_.size());
    readers_ = open_readers();
    writer_ = std::make_unique<GroupWriter>(std::move(store), max_id, options.retention, tally_,
                                            std::move(options.on_removed));
  }
  ~DurableBackend() override {
    close();
    readers_.reset();
  }

  std::uint64_t next_id() override { return ++last_id_; }

  WriteTicket insert(const Job& job) override {
    tally_.add(job.state());
    return writer_->insert(row_of(job, true));
  }

  WriteTicket insert_all(std::span<const Job* const> jobs) override {
    std::vector<JobRow> rows;
    rows.reserve(jobs.size());
    for (const Job* job : jobs) {
      tally_.add(job->state());
      rows.push_back(row_of(*job, true));
    }
    return writer_->insert_all(std::move(rows));
  }

  WriteTicket update(const Job& job, JobState was, bool with_output) override {
    tally_.move(was, job.state());
    return writer_->update(row_of(job, false, with_output));
  }

  WriteTicket erase(std::uint64_t id, JobState state) override {
    tally_.add(state, -1);
    return writer_->erase(id);
  }

  WriteTicket put_setting(const SettingRow& row) override { return writer_->put_setting(row); }
  WriteTicket insert_fired(const Job& job, const SettingRow& schedule) override {
    tally_.add(job.state());
    return writer_->insert_fired(row_of(job, true), schedule);
  }
  std::vector<SettingRow> load_settings(SettingKind kind) override {
    std::vector<SettingRow> out;
    for (const SettingRow& row : settings_) {
      if (row.kind == kind) out.push_back(row);
    }
    return out;
  }

  void mark_alive() override { writer_->mark_alive(); }
  std::optional<std::int64_t> last_alive_ms() const override { return last_alive_ms_; }

  bool committed(WriteTicket ticket) const override { return writer_->committed(ticket); }
  bool wait_committed(WriteTicket ticket, std::chrono::milliseconds timeout) override {
    return writer_->wait_committed(ticket, timeout);
  }

  std::optional<JobRow> get(std::uint64_t id) override { return readers_->get(id); }
  ListPage list(const ListQuery& query) override { return readers_->list(query, tally_.get()); }
  std::optional<std::uint64_t> find_by_key(const std::string& key) override {
    return readers_->find_by_key(key);
  }
  StateCounts counts() const override { return tally_.get(); }
  std::vector<JobRow> load_live() override { return std::exchange(live_, {}); }
  BackendStats stats() const override { return writer_->stats(); }
  std::optional<std::string> unavailable_reason() override {
    if (std::optional<std::string> p = writer_->problem()) return p;
    try {
      readers_->ping();
    } catch (const StoreError& e) {
      // The writer logs its own failures; an idle store's is found only here.
      spdlog::warn("task store: {}", e.what());
      return std::string(e.what());
    }
    return std::nullopt;
  }
  void close() override {
    if (writer_) writer_->stop();
  }

 private:
  std::size_t trim_at_start(DurableStore& store, const Retention& retention, std::uint64_t max_id) {
    std::size_t trimmed = 0;
    WriteBatch nothing;
    nothing.max_id = max_id;
    for (;;) {
      RetentionStep step;
      step.limit = kStartRetentionBatch;
      const std::uint64_t finished = tally_.finished();
      step.excess = finished > retention.keep_finished ? finished - retention.keep_finished : 0;
      if (retention.keep_for) step.cutoff_ms = wall_ms() - retention.keep_for->count();
      if (step.excess == 0 && !step.cutoff_ms) return trimmed;
      const DurableStore::Written w = store.write(nothing, step);
      for (const RemovedJob& r : w.removed)
        tally_.add(r.state, -1);
      trimmed += w.removed.size();
      if (w.removed.size() < step.limit) return trimmed;
    }
  }

  std::string path_;
  StateTally tally_;
  std::atomic<std::uint64_t> last_id_{0};
  std::vector<JobRow> live_;
  std::vector<SettingRow> settings_;
  std::optional<std::int64_t> last_alive_ms_;
  // Readers go first: the writer's connection, closed last, then may tidy up (SQLite folds its
  // log into the file).
  std::unique_ptr<GroupWriter> writer_;
  std::unique_ptr<StoreReaders> readers_;
};

}  // namespace

std::unique_ptr<JobBackend> make_durable_backend(
    std::unique_ptr<DurableStore> store,
    const std::function<std::unique_ptr<StoreReaders>()>& open_readers, BackendOptions options) {
  return std::make_unique<DurableBackend>(std::move(store), open_readers, std::move(options));
}

}  // namespace uasyncd::server
