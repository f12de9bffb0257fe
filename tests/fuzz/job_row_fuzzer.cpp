// Fuzzes the store's row decoder: a row read back from a damaged or tampered database must be
// refused (null and a reason) or rebuilt, never crash. The input is split into the row's text
// columns and numbers, so the fuzzer can damage each one on its own.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "uasyncd/store/job_row.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace uasyncd::server;
  FuzzedDataProvider in(data, size);
  JobRow row;
  row.id = in.ConsumeIntegral<std::uint64_t>();
  row.state = static_cast<JobState>(in.ConsumeIntegralInRange<int>(0, 6));
  row.attempts = in.ConsumeIntegral<int>();
  row.created_ms = in.ConsumeIntegral<std::int64_t>();
  row.started_ms = in.ConsumeIntegral<std::int64_t>();
  row.finished_ms = in.ConsumeIntegral<std::int64_t>();
  row.spec = in.ConsumeRandomLengthString();
  row.result = in.ConsumeRandomLengthString();
  row.steps = in.ConsumeRandomLengthString();
  row.idempotency_key = in.ConsumeRandomLengthString();
  if (in.ConsumeBool())
    row.error = ErrorInfo{in.ConsumeRandomLengthString(), in.ConsumeRandomLengthString()};
  // One output row: a step's own, or a legacy body (every step's output, as a migration moved it).
  const std::int64_t step =
      in.ConsumeBool() ? kLegacyOutputs : in.ConsumeIntegralInRange<std::int64_t>(0, 16);
  row.outputs.push_back({step, in.ConsumeRemainingBytesAsString()});
  std::string why;
  const std::shared_ptr<Job> job = job_of(row, why);
  (void)summary_of(row);
  // A rebuilt job must be writable again, as the store does at its next change (its outputs
  // too, as if they had ended since).
  if (job) {
    JobRow again = row_of(*job, true);
    for (std::size_t i = 0; i < job->steps().size(); ++i) {
      if (ExecOutput* e = job->exec(i)) e->stored = false;
    }
    add_new_outputs(*job, again);
  }
  return 0;
}
