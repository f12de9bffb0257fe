// The SQLite backend: one file per daemon, written by the writer thread (group commits), read by
// the HTTP threads through their own connections.
#include <spdlog/spdlog.h>

#include <atomic>
#include <utility>

#include "sqlite_file.hpp"
#include "sqlite_readers.hpp"
#include "sqlite_writer.hpp"
#include "state_tally.hpp"
#include "uasyncd/store/job_backend.hpp"

namespace uasyncd::server {
namespace {

// Rows deleted per transaction by the retention applied at start.
constexpr std::size_t kStartRetentionBatch = 10'000;

class SqliteBackend final : public JobBackend {
 public:
  SqliteBackend(const SqliteOptions& sqlite, BackendOptions options) {
    std::unique_ptr<SqliteFile> file = SqliteFile::open(sqlite.dir, sqlite.full_sync);
    path_ = file->path();
    if (file->opened_version() != 0 && file->opened_version() < SqliteFile::kSchemaVersion) {
      spdlog::info("{}: migrated from schema {} to {}", path_, file->opened_version(),
                   SqliteFile::kSchemaVersion);
    }
    const StateCounts counts = file->count_states();
    for (JobState s : kAllJobStates)
      tally_.add(s, static_cast<std::int64_t>(counts[static_cast<std::size_t>(s)]));
    const std::uint64_t max_id = file->max_id();
    last_id_ = max_id;
    // Retention before anything is read: rows it would drop at once are never served.
    const std::size_t trimmed = trim_at_start(*file, options.retention, max_id);
    if (trimmed > 0) {
      spdlog::info("{}: {} old finished tasks deleted (--keep-finished, --keep-for)", path_,
                   trimmed);
    }
    live_ = file->load_live();
    last_alive_ms_ = file->alive_ms();
    std::uint64_t total = 0;
    for (std::uint64_t n : tally_.get())
      total += n;
    spdlog::info("task store {}: {} tasks ({} live)", path_, total, live_.size());
    readers_ = std::make_unique<SqliteReaders>(path_, sqlite.readers);
    writer_ = std::make_unique<SqliteWriter>(std::move(file), max_id, options.retention, tally_,
                                             std::move(options.on_removed));
  }
  ~SqliteBackend() override {
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
  void close() override {
    if (writer_) writer_->stop();
  }

 private:
  std::size_t trim_at_start(SqliteFile& file, const Retention& retention, std::uint64_t max_id) {
    std::size_t trimmed = 0;
    SqliteBatch nothing;
    nothing.max_id = max_id;
    for (;;) {
      RetentionStep step;
      step.limit = kStartRetentionBatch;
      const std::uint64_t finished = tally_.finished();
      step.excess = finished > retention.keep_finished ? finished - retention.keep_finished : 0;
      if (retention.keep_for) step.cutoff_ms = wall_ms() - retention.keep_for->count();
      if (step.excess == 0 && !step.cutoff_ms) return trimmed;
      const SqliteFile::Written w = file.write(nothing, step);
      for (const RemovedRow& r : w.removed)
        tally_.add(r.state, -1);
      trimmed += w.removed.size();
      if (w.removed.size() < step.limit) return trimmed;
    }
  }

  std::string path_;
  StateTally tally_;
  std::atomic<std::uint64_t> last_id_{0};
  std::vector<JobRow> live_;
  std::optional<std::int64_t> last_alive_ms_;
  // Readers go first: the writer's connection, closed last, then folds the log into the file.
  std::unique_ptr<SqliteWriter> writer_;
  std::unique_ptr<SqliteReaders> readers_;
};

}  // namespace

std::unique_ptr<JobBackend> open_sqlite_backend(const SqliteOptions& sqlite,
                                                BackendOptions options) {
  return std::make_unique<SqliteBackend>(sqlite, std::move(options));
}

}  // namespace uasyncd::server
