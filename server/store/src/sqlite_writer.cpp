#include "uasyncd/server/durable_writer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_map>
#include <utility>

#include "uasyncd/server/task_snapshot.hpp"

namespace uasyncd::server {
namespace {

// Everything but the spec and the creation time, which an insert fixes once.
void take_outcome(StoredTask& to, StoredTask&& from) {
  to.state = std::move(from.state);
  to.attempts = from.attempts;
  to.started_ms = from.started_ms;
  to.finished_ms = from.finished_ms;
  to.result = std::move(from.result);
  to.error_type = std::move(from.error_type);
  to.error_message = std::move(from.error_message);
  if (!from.steps.empty()) to.steps = std::move(from.steps);
  if (!from.output.empty()) to.output = std::move(from.output);
}

constexpr int kGiveUpAtStopAfter = 5;

}  // namespace

DurableWriter::DurableWriter(std::unique_ptr<TaskStore> store, std::uint64_t max_seq)
    : store_(std::move(store)), max_seq_(max_seq), durable_seq_(max_seq) {
  thread_ = std::thread([this] { run(); });
}

DurableWriter::~DurableWriter() {
  stop();
}

void DurableWriter::push(Kind kind, StoredTask row) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    queue_.push_back({kind, std::move(row)});
  }
  work_cv_.notify_one();
}

void DurableWriter::submitted(const api::TaskRecord& task) {
  push(Kind::insert, snapshot(task, true));
}

void DurableWriter::changed(const api::TaskRecord& task, bool with_output) {
  push(Kind::update, snapshot(task, false, with_output));
}

void DurableWriter::erased(std::uint64_t seq) {
  StoredTask row;
  row.seq = seq;
  push(Kind::erase, std::move(row));
}

StoreBatch DurableWriter::coalesce(std::vector<Op>& ops, std::uint64_t& inserted_max) {
  StoreBatch batch;
  // seq -> (in inserts?, index)
  std::unordered_map<std::uint64_t, std::pair<bool, std::size_t>> where;
  for (Op& op : ops) {
    const std::uint64_t seq = op.row.seq;
    switch (op.kind) {
      case Kind::insert:
        inserted_max = std::max(inserted_max, seq);
        where[seq] = {true, batch.inserts.size()};
        batch.inserts.push_back(std::move(op.row));
        break;
      case Kind::update:
        if (auto it = where.find(seq); it != where.end()) {
          auto& rows = it->second.first ? batch.inserts : batch.updates;
          take_outcome(rows[it->second.second], std::move(op.row));
        } else {
          where[seq] = {false, batch.updates.size()};
          batch.updates.push_back(std::move(op.row));
        }
        break;
      case Kind::erase:
        // Deletes run last in the transaction, after this batch's inserts and updates.
        where.erase(seq);
        batch.deletes.push_back(seq);
        break;
    }
  }
  batch.max_seq = inserted_max;
  return batch;
}

void DurableWriter::run() {
  std::uint64_t inserted_max = max_seq_;
  int failures = 0;
  std::vector<Op> ops;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return !queue_.empty() || stopping_ || !ops.empty(); });
      if (queue_.empty() && ops.empty()) return;  // stopping, nothing left
      // Ops kept from a failed commit go first: they were queued before.
      std::move(queue_.begin(), queue_.end(), std::back_inserter(ops));
      queue_.clear();
    }
    std::uint64_t batch_max = inserted_max;
    StoreBatch batch = coalesce(ops, batch_max);
    try {
      store_->write(batch);
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
      }
      durable_cv_.notify_all();
      if (give_up) {
        spdlog::error("task store: {} changes not written",
                      batch.inserts.size() + batch.updates.size() + batch.deletes.size());
        return;
      }
      // The batch is rebuilt from its rows and retried: the disk may get space back.
      ops.clear();
      for (StoredTask& t : batch.inserts)
        ops.push_back({Kind::insert, std::move(t)});
      for (StoredTask& t : batch.updates)
        ops.push_back({Kind::update, std::move(t)});
      for (std::uint64_t seq : batch.deletes) {
        StoredTask t;
        t.seq = seq;
        ops.push_back({Kind::erase, std::move(t)});
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    failures = 0;
    ops.clear();
    inserted_max = batch_max;
    {
      std::lock_guard lock(durable_mu_);
      failing_ = false;
      durable_seq_ = inserted_max;
      ++stats_.commits;
      stats_.rows += batch.inserts.size() + batch.updates.size() + batch.deletes.size();
    }
    durable_cv_.notify_all();
  }
}

bool DurableWriter::wait_durable(std::uint64_t seq, std::chrono::milliseconds timeout) {
  std::unique_lock lock(durable_mu_);
  durable_cv_.wait_for(lock, timeout, [&] { return durable_seq_ >= seq || failing_; });
  return durable_seq_ >= seq;
}

void DurableWriter::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  closed_ = true;
}

DurableWriter::Stats DurableWriter::stats() const {
  std::lock_guard lock(durable_mu_);
  return stats_;
}

}  // namespace uasyncd::server
