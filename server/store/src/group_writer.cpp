#include "group_writer.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_map>
#include <utility>

namespace uasyncd::server {
namespace {

// A later write of a job in the same batch: merged, unless it is of an earlier attempt than the
// one already in the batch (fenced out, as in the store).
bool take_outcome(JobRow& to, JobRow&& from) {
  if (from.attempts < to.attempts) return false;
  apply_update(to, std::move(from));
  return true;
}

constexpr int kGiveUpAtStopAfter = 5;
// Rows retention removes per transaction: small enough that a commit behind it waits little.
constexpr std::size_t kTrimmedPerCommit = 1000;
// How often an idle writer looks for rows past --keep-for.
constexpr std::chrono::seconds kIdleRetention{1};

}  // namespace

GroupWriter::GroupWriter(std::unique_ptr<DurableStore> store, std::uint64_t max_id,
                         Retention retention, StateTally& tally,
                         std::function<void(std::span<const RemovedJob>)> on_removed)
    : store_(std::move(store)),
      retention_(retention),
      tally_(tally),
      on_removed_(std::move(on_removed)),
      max_id_(max_id) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "uasyncd-writer");  // as top -H and perf show it
    run();
  });
}

GroupWriter::~GroupWriter() {
  stop();
}

WriteTicket GroupWriter::push(Kind kind, JobRow row) {
  WriteTicket ticket = 0;
  {
    std::lock_guard lock(mu_);
    if (closed_) return 0;
    ticket = ++pushed_;
    queue_.push_back({kind, std::move(row), {}});
  }
  work_cv_.notify_one();
  return ticket;
}

WriteTicket GroupWriter::insert(JobRow row) {
  return push(Kind::insert, std::move(row));
}

WriteTicket GroupWriter::insert_all(std::vector<JobRow> rows) {
  WriteTicket ticket = 0;
  {
    std::lock_guard lock(mu_);
    if (closed_) return 0;
    // The writer takes the whole queue under this lock: it never sees part of the batch.
    for (JobRow& row : rows)
      queue_.push_back({Kind::insert, std::move(row), {}});
    pushed_ += rows.size();
    ticket = pushed_;
  }
  work_cv_.notify_one();
  return ticket;
}

WriteTicket GroupWriter::update(JobRow row) {
  return push(Kind::update, std::move(row));
}

WriteTicket GroupWriter::erase(std::uint64_t id) {
  JobRow row;
  row.id = id;
  return push(Kind::erase, std::move(row));
}

WriteTicket GroupWriter::put_setting(SettingRow row) {
  WriteTicket ticket = 0;
  {
    std::lock_guard lock(mu_);
    if (closed_) return 0;
    ticket = ++pushed_;
    queue_.push_back({Kind::setting, {}, std::move(row)});
  }
  work_cv_.notify_one();
  return ticket;
}

WriteTicket GroupWriter::insert_fired(JobRow job, SettingRow schedule) {
  WriteTicket ticket = 0;
  {
    std::lock_guard lock(mu_);
    if (closed_) return 0;
    // Under one lock, as insert_all: the writer takes both or neither into a transaction.
    queue_.push_back({Kind::insert, std::move(job), {}});
    queue_.push_back({Kind::setting, {}, std::move(schedule)});
    pushed_ += 2;
    ticket = pushed_;
  }
  work_cv_.notify_one();
  return ticket;
}

void GroupWriter::mark_alive() {
  push(Kind::alive, JobRow{});
}

WriteBatch GroupWriter::coalesce(std::vector<Op>& ops, std::uint64_t& inserted_max,
                                 std::size_t& fenced) {
  WriteBatch batch;
  // id -> (in inserts?, index)
  std::unordered_map<std::uint64_t, std::pair<bool, std::size_t>> where;
  for (Op& op : ops) {
    const std::uint64_t id = op.row.id;
    switch (op.kind) {
      case Kind::insert:
        inserted_max = std::max(inserted_max, id);
        where[id] = {true, batch.inserts.size()};
        batch.inserts.push_back(std::move(op.row));
        break;
      case Kind::update:
        if (auto it = where.find(id); it != where.end()) {
          auto& rows = it->second.first ? batch.inserts : batch.updates;
          if (!take_outcome(rows[it->second.second], std::move(op.row))) ++fenced;
        } else {
          where[id] = {false, batch.updates.size()};
          batch.updates.push_back(std::move(op.row));
        }
        break;
      case Kind::erase:
        // Deletes run after this batch's inserts and updates, in the same transaction.
        where.erase(id);
        batch.deletes.push_back(id);
        break;
      case Kind::setting:
        batch.settings.push_back(std::move(op.setting));
        break;
      case Kind::alive:
        // Stamped now, as the batch is about to be committed: the latest the daemon is known
        // to have been alive, however long the op waited behind a slow commit.
        batch.alive_ms = wall_ms();
        break;
    }
  }
  batch.max_id = inserted_max;
  return batch;
}

RetentionStep GroupWriter::retention_step() const {
  RetentionStep step;
  step.limit = kTrimmedPerCommit;
  const std::uint64_t finished = tally_.finished();
  step.excess = finished > retention_.keep_finished ? finished - retention_.keep_finished : 0;
  if (retention_.keep_for) step.cutoff_ms = wall_ms() - retention_.keep_for->count();
  return step;
}

void GroupWriter::run() {
  std::uint64_t inserted_max = max_id_;
  int failures = 0;
  std::vector<Op> ops;
  bool more_retention = true;  // look once at start
  WriteTicket batch_ticket = 0;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      const auto ready = [&] { return !queue_.empty() || stopping_ || !ops.empty(); };
      if (!more_retention) {
        if (retention_.keep_for) {
          work_cv_.wait_for(lock, kIdleRetention, ready);
        } else {
          work_cv_.wait(lock, ready);
        }
      }
      if (queue_.empty() && ops.empty() && stopping_) return;  // stopping, nothing left
      // Ops kept from a failed commit go first: they were queued before.
      std::move(queue_.begin(), queue_.end(), std::back_inserter(ops));
      queue_.clear();
      batch_ticket = pushed_;
    }
    std::uint64_t batch_max = inserted_max;
    std::size_t fenced = 0;
    WriteBatch batch = coalesce(ops, batch_max, fenced);
    const RetentionStep retention = retention_step();
    if (batch.empty() && retention.excess == 0 && !retention.cutoff_ms) {
      more_retention = false;
      continue;
    }
    DurableStore::Written written;
    const auto commit_started = std::chrono::steady_clock::now();
    try {
      // Before the transaction: whoever reads the store meanwhile knows its rows may show.
      committing_.store(batch_ticket, std::memory_order_seq_cst);
      written = store_->write(batch, retention);
    } catch (const StoreError& e) {
      ++failures;
      spdlog::error("task store: {} (attempt {}); submits answer 503 meanwhile", e.what(),
                    failures);
      bool give_up = false;
      {
        std::lock_guard lock(mu_);
        give_up = stopping_ && failures >= kGiveUpAtStopAfter;
      }
      {
        std::lock_guard lock(durable_mu_);
        failing_ = true;
        problem_ = e.what();
      }
      durable_cv_.notify_all();
      if (give_up) {
        spdlog::error("task store: {} changes not written",
                      batch.inserts.size() + batch.updates.size() + batch.deletes.size());
        return;
      }
      // The batch is rebuilt from its rows and retried: the disk may get space back.
      ops.clear();
      for (JobRow& t : batch.inserts)
        ops.push_back({Kind::insert, std::move(t), {}});
      for (JobRow& t : batch.updates)
        ops.push_back({Kind::update, std::move(t), {}});
      for (std::uint64_t id : batch.deletes) {
        JobRow t;
        t.id = id;
        ops.push_back({Kind::erase, std::move(t), {}});
      }
      for (SettingRow& row : batch.settings)
        ops.push_back({Kind::setting, {}, std::move(row)});
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    failures = 0;
    ops.clear();
    inserted_max = batch_max;
    more_retention = written.removed.size() >= retention.limit;
    const std::vector<RemovedJob>& removed = written.removed;
    for (const RemovedJob& r : removed)
      tally_.add(r.state, -1);
    written.fenced += fenced;
    if (written.fenced > 0) spdlog::warn("task store: {} stale writes dropped", written.fenced);
    // Told before the commit is published: whoever waits for it then sees the removals too.
    if (!removed.empty() && on_removed_) on_removed_(removed);
    {
      std::lock_guard lock(durable_mu_);
      failing_ = false;
      committed_.store(batch_ticket, std::memory_order_seq_cst);
      ++stats_.commits;
      stats_.rows += batch.inserts.size() + batch.updates.size() + batch.deletes.size() +
                     batch.settings.size();
      stats_.fenced += written.fenced;
      for (const auto* rows : {&batch.inserts, &batch.updates}) {
        for (const JobRow& row : *rows) {
          for (const StepOutput& o : row.outputs)
            stats_.output_bytes += o.body.size();
        }
      }
      stats_.removed += removed.size();
      stats_.commit_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - commit_started).count();
    }
    durable_cv_.notify_all();
  }
}

bool GroupWriter::wait_committed(WriteTicket ticket, std::chrono::milliseconds timeout) {
  std::unique_lock lock(durable_mu_);
  durable_cv_.wait_for(lock, timeout, [&] { return committed(ticket) || failing_; });
  return committed(ticket);
}

void GroupWriter::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  closed_ = true;
}

std::optional<std::string> GroupWriter::problem() const {
  std::lock_guard lock(durable_mu_);
  if (!failing_) return std::nullopt;
  return problem_;
}

BackendStats GroupWriter::stats() const {
  std::lock_guard lock(durable_mu_);
  return stats_;
}

}  // namespace uasyncd::server
