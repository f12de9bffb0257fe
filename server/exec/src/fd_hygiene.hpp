// Which descriptors a new process keeps. The supervisor forks keepers without exec, so
// close-on-exec alone would leave every other step's pipe ends open in them (and those pipes
// would never see EOF): keepers close what they do not own explicitly.
//
// Thread rules: call in a process with a single thread (the supervisor, a keeper, a fresh
// child); they touch the whole descriptor table.
#pragma once

#include <initializer_list>

namespace uasyncd::exec::detail {

// Closes every descriptor from 3 up that is not in `keep`.
void close_fds_except(std::initializer_list<int> keep);

// Sets close-on-exec on every descriptor from `first` up (a command's last step before execve).
void cloexec_from(int first);

void set_cloexec(int fd);
void set_nonblocking(int fd);

}  // namespace uasyncd::exec::detail
