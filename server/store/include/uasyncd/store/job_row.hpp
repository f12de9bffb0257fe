// Task records to rows and back: what the store keeps of a task, and how a restart rebuilds it.
#pragma once

#include <string>

#include "uasyncd/server/registry.hpp"
#include "uasyncd/server/task_store.hpp"

namespace uasyncd::server {

// The task as a row; `with_spec` for the insert (the spec never changes afterwards);
// `with_output` when an exec step has ended since the last row: the output of every ended exec
// step (up to the capture cap, so up to 2 MiB per step) is then written again.
StoredTask snapshot(const api::TaskRecord& task, bool with_spec, bool with_output = false);

// The record a row describes, or nullptr with `why` when the row cannot be read back.
TaskPtr rebuild(const StoredTask& row, std::string& why);

}  // namespace uasyncd::server
