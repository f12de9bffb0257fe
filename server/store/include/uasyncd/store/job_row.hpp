// A job as a stored row, and back: what a backend keeps of a job, and how a read or a restart
// rebuilds it. Pure functions, any thread; but add_new_outputs, which marks the job (loop thread).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "uasyncd/job/job.hpp"
#include "uasyncd/job/job_json.hpp"

namespace uasyncd::server {

// One exec step's output as stored: a row of its own beside the job's (table task_outputs),
// written once, when the step's process has ended.
struct StepOutput {
  // The step's index (preorder). kLegacyOutputs: the outputs of several steps in one body, as a
  // store kept them in its tasks' row before it had a row per step (moved there by a migration).
  std::int64_t step = 0;
  // MessagePack: [pid, exit code or null, signal, stdout, stderr], each stream [kept, tail or
  // null, bytes]; with kLegacyOutputs an array of [index, pid, exit code, ...] per step.
  std::string body;
};
inline constexpr std::int64_t kLegacyOutputs = -1;

// One job as a row. Text fields hold JSON; an empty text means "absent" (in an update:
// "unchanged").
struct JobRow {
  std::uint64_t id = 0;
  std::string spec;  // the spec document; empty in an update: it never changes after the insert
  std::string name;  // the root's name, for ?name= (insert only)
  std::string kind;  // the root's kind, for lists (insert only)
  std::string idempotency_key;  // the submit's Idempotency-Key, empty if none (insert only)
  // The root's "queue" and "priority" as columns (insert only), so a claim query of a shared
  // database can pick pending tasks by queue, priority and age without reading specs.
  std::string queue = "default";
  int priority = 0;
  JobState state = JobState::pending;
  int attempts = 0;  // also the fence of a write: an older attempt's write is dropped
  std::int64_t created_ms = 0;
  std::int64_t run_at_ms = 0;  // wall clock; 0 (NULL in SQLite): not delayed
  std::int64_t started_ms = 0;
  std::int64_t finished_ms = 0;
  std::int64_t interrupted_at_ms = 0;  // when a restart found it running (0: never)
  std::string result;                  // JSON text of a final job's result
  std::optional<ErrorInfo> error;
  std::string steps;  // per-step states and outcomes; empty in an update: unchanged
  // Read: every stored step output of the job, by step. Written: only the outputs not stored
  // before (add_new_outputs), each inserted, or replacing a stored one of the same step.
  std::vector<StepOutput> outputs;
  // Written: the stored outputs of the job's steps not in `outputs` are deleted (a new run, whose
  // steps have no output yet, must not show an earlier run's).
  bool outputs_reset = false;
  // Cluster mode (a database several daemons share). Written: the live job leaves this
  // instance's hands (its owner becomes NULL: any instance may claim it). Read: the instance
  // holding the live job (0: none, or not a shared database).
  bool released = false;
  std::int64_t owner = 0;
};

// The job as a row, without exec output (add_new_outputs). `insert`: with the spec, name and
// kind (which never change afterwards).
JobRow row_of(const Job& job, bool insert);

// Adds to the row the output of each exec step whose process has ended and that is not stored
// yet (up to the capture cap, so up to 2 MiB per step), and marks it stored in the job: each
// step's output is written once, by the write that follows its end. Loop thread (the job's).
void add_new_outputs(Job& job, JobRow& row);

// Applies an update row to the stored row of the same job: everything but what an insert fixes
// (spec, name, kind, creation time); empty steps leave the stored ones; outputs are added (an
// output of the same step replaced), after a reset (outputs_reset) drops the stored ones.
void apply_update(JobRow& stored, JobRow&& update);

// The job a row describes, or null with `why` when the row cannot be read back.
std::shared_ptr<Job> job_of(const JobRow& row, std::string& why);

// What a list shows of a row, without rebuilding the job.
JobSummary summary_of(const JobRow& row);

}  // namespace uasyncd::server
