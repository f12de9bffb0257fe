// The durable backend: counts kept as writes are made, group commits by the writer thread,
// reads through the store's own reader connections.
#include "durable_backend.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "group_writer.hpp"
#include "state_tally.hpp"

namespace uasyncd::server {
namespace {

// Rows deleted per transaction by the retention applied at start.
constexpr std::size_t kStartRetentionBatch = 10'000;
// Ids a daemon of a shared store reserves at once: one round trip per this many submits.
constexpr std::uint64_t kIdBlock = 1000;
// How long the counts a shared store read are served before they are read again.
constexpr std::chrono::seconds kSharedCountsFor{1};
// How many times a count of a shared store is read to find the writer between commits.
constexpr int kCountReadTries = 20;

class DurableBackend final : public JobBackend {
 public:
  DurableBackend(std::unique_ptr<DurableStore> store,
                 const std::function<std::unique_ptr<StoreReaders>()>& open_readers,
                 BackendOptions options) {
    path_ = store->where();
    shared_ = store->shared();
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
    store_ = store.get();
    const StateCounts opened = tally_.get();
    for (std::size_t i = 0; i < opened.size(); ++i)
      committed_[i] = static_cast<std::int64_t>(opened[i]);
    auto on_removed = std::move(options.on_removed);
    writer_ = std::make_unique<GroupWriter>(
        std::move(store), max_id, options.retention, tally_,
        [this, on_removed = std::move(on_removed)](std::span<const RemovedJob> jobs) {
          if (shared_) {
            std::lock_guard lock(counts_mu_);
            for (const RemovedJob& j : jobs)
              --committed_[static_cast<std::size_t>(j.state)];
          }
          if (on_removed) on_removed(jobs);
        });
  }
  ~DurableBackend() override {
    close();
    readers_.reset();
  }

  std::uint64_t next_id() override {
    if (!shared_) return ++last_id_;
    // Loop thread only: the block is this thread's. A reservation throws StoreError when the
    // database fails, which the submit answers as it answers a failed write.
    if (block_next_ > block_last_) {
      block_last_ = store_->reserve_ids(kIdBlock);
      block_next_ = block_last_ - kIdBlock + 1;
    }
    return block_next_++;
  }

  WriteTicket insert(const Job& job) override {
    tally_.add(job.state());
    return noted(writer_->insert(row_of(job, true)), std::nullopt, job.state());
  }

  WriteTicket insert_all(std::span<const Job* const> jobs) override {
    std::vector<JobRow> rows;
    rows.reserve(jobs.size());
    for (const Job* job : jobs) {
      tally_.add(job->state());
      rows.push_back(row_of(*job, true));
    }
    const WriteTicket ticket = writer_->insert_all(std::move(rows));
    for (const Job* job : jobs)
      noted(ticket, std::nullopt, job->state());
    return ticket;
  }

  WriteTicket update(Job& job, JobState was, bool with_output) override {
    tally_.move(was, job.state());
    JobRow row = row_of(job, false);
    if (with_output) add_new_outputs(job, row);
    return noted(writer_->update(std::move(row)), was, job.state());
  }

  WriteTicket erase(std::uint64_t id, JobState state) override {
    tally_.add(state, -1);
    return noted(writer_->erase(id), state, std::nullopt);
  }

  bool shared() const override { return shared_; }
  WriteTicket release(const Job& job) override {
    JobRow row = row_of(job, false);
    row.released = true;
    return writer_->update(std::move(row));
  }

  WriteTicket put_setting(const SettingRow& row) override { return writer_->put_setting(row); }
  WriteTicket insert_fired(const Job& job, const SettingRow& schedule) override {
    tally_.add(job.state());
    JobRow row = row_of(job, true);
    SettingRow guarded = schedule;
    if (shared_) {
      // Every instance that knows the schedule fires it; the first one's run stands and goes to
      // whichever instance claims it (the service does not run it here).
      row.released = true;
      guarded.guard_job = job.id();
    }
    return noted(writer_->insert_fired(std::move(row), std::move(guarded)), std::nullopt,
                 job.state());
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
  ListPage list(const ListQuery& query) override { return readers_->list(query, counts()); }
  std::optional<std::uint64_t> find_by_key(const std::string& key) override {
    return readers_->find_by_key(key);
  }
  StateCounts counts() const override {
    if (!shared_) return tally_.get();
    // Other daemons write the same rows: the database counts them (once a second at most). This
    // daemon's own writes are added as the tally has them, less what the read saw of them
    // already (its writes committed by then), so its own changes show at once. One reader at a
    // time, and never with counts_mu_ held across the read: the loop thread takes it at every
    // write.
    std::lock_guard reading(count_read_mu_);
    const auto now = std::chrono::steady_clock::now();
    bool due = false;
    {
      std::lock_guard lock(counts_mu_);
      due = !counts_read_ || now - *counts_read_ >= kSharedCountsFor;
    }
    if (due) {
      read_shared_counts();
      std::lock_guard lock(counts_mu_);
      counts_read_ = now;
    }
    std::lock_guard lock(counts_mu_);
    absorb_committed();
    const StateCounts mine = tally_.get();
    StateCounts out{};
    for (std::size_t i = 0; i < out.size(); ++i) {
      const std::int64_t n = static_cast<std::int64_t>(shared_counts_[i]) +
                             static_cast<std::int64_t>(mine[i]) - committed_at_read_[i];
      out[i] = static_cast<std::uint64_t>(std::max<std::int64_t>(n, 0));
    }
    return out;
  }
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
  // count_read_mu_ held. The read must show exactly this daemon's writes up to a known ticket,
  // or they count twice or not at all: no commit of its may be under way from before the read
  // to after it (the database shows a commit before the writer can say it is done). Made again
  // until so, a while at most; a writer busy all along leaves the last read's small error.
  void read_shared_counts() const {
    try {
      for (int tries = 0; tries < kCountReadTries; ++tries) {
        const WriteTicket at = writer_->committed_ticket();
        std::array<std::int64_t, kAllJobStates.size()> before{};
        {
          std::lock_guard lock(counts_mu_);
          absorb_committed(at);
          before = committed_;
        }
        const bool quiet_before = writer_->committing_ticket() <= at;
        std::optional<StateCounts> c = readers_->count_states();
        if (!c) return;
        {
          std::lock_guard lock(counts_mu_);
          shared_counts_ = *c;
          committed_at_read_ = before;
        }
        if (quiet_before && writer_->committing_ticket() <= at) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    } catch (const StoreError& e) {
      spdlog::warn("task store: {}", e.what());  // the last counts stand meanwhile
    }
  }
  // Shared store: remembers a write's move between states until its commit, when it counts in
  // committed_ (what a read of the database already shows of this daemon's writes).
  WriteTicket noted(WriteTicket ticket, std::optional<JobState> from, std::optional<JobState> to) {
    if (!shared_ || ticket == 0) return ticket;
    std::lock_guard lock(counts_mu_);
    moves_.push_back({ticket, from, to});
    absorb_committed();
    return ticket;
  }
  // counts_mu_ held. The committed moves, up to `upto` at most.
  void absorb_committed(WriteTicket upto = std::numeric_limits<WriteTicket>::max()) const {
    while (!moves_.empty() && moves_.front().ticket <= upto &&
           writer_->committed(moves_.front().ticket)) {
      const Move& m = moves_.front();
      if (m.from) --committed_[static_cast<std::size_t>(*m.from)];
      if (m.to) ++committed_[static_cast<std::size_t>(*m.to)];
      moves_.pop_front();
    }
  }

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
  bool shared_ = false;
  DurableStore* store_ = nullptr;  // owned by writer_; reserve_ids only
  std::uint64_t block_next_ = 1;   // next_id's block (shared store), empty at first
  std::uint64_t block_last_ = 0;
  mutable std::mutex count_read_mu_;  // one read of the database's counts at a time
  mutable std::mutex counts_mu_;
  mutable std::optional<std::chrono::steady_clock::time_point> counts_read_;
  mutable StateCounts shared_counts_{};
  struct Move {
    WriteTicket ticket;
    std::optional<JobState> from;
    std::optional<JobState> to;
  };
  mutable std::deque<Move> moves_;  // uncommitted moves, oldest first
  // The tally of committed writes (rows per state), now and when shared_counts_ was read.
  mutable std::array<std::int64_t, kAllJobStates.size()> committed_{};
  mutable std::array<std::int64_t, kAllJobStates.size()> committed_at_read_{};
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
