// What a step keeper tells the supervisor, over one pipe all keepers share: fixed-size records,
// each written with one write(2) of less than PIPE_BUF bytes, so records never interleave.
// Plain data: no lifetime or thread rules beyond the pipe's.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace uasyncd::exec::detail {

enum class ReportKind : std::int32_t {
  started = 1,       // value: the command's pid (its process group and session id)
  spawn_failed = 2,  // value: errno of chdir or execve
  exited = 3,        // value: the command's wait status; its whole subtree is gone
};

struct KeeperReport {
  std::int32_t keeper = 0;  // the keeper's pid
  ReportKind kind{};
  std::int32_t value = 0;
  std::int32_t reserved = 0;
};

static_assert(sizeof(KeeperReport) == 16);

}  // namespace uasyncd::exec::detail
