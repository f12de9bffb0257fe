#include "fd_hygiene.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <vector>

namespace uasyncd::exec::detail {
namespace {

// The raw system call: close_range(2) needs Linux 5.9 (5.11 for CLOSE_RANGE_CLOEXEC); older
// kernels answer ENOSYS or EINVAL and the caller walks /proc/self/fd instead.
int close_range_call(unsigned first, unsigned last, unsigned flags) {
  return static_cast<int>(::syscall(SYS_close_range, first, last, flags));
}

std::vector<int> open_fds() {
  std::vector<int> fds;
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return fds;
  const int own = ::dirfd(d);
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end != e->d_name && *end == '\0' && fd != own) fds.push_back(static_cast<int>(fd));
  }
  ::closedir(d);
  return fds;
}

}  // namespace

void close_fds_except(std::initializer_list<int> keep) {
  std::vector<int> sorted;
  for (int fd : keep)
    if (fd >= 3) sorted.push_back(fd);
  std::sort(sorted.begin(), sorted.end());
  unsigned from = 3;
  bool fallback = false;
  for (int fd : sorted) {
    const auto k = static_cast<unsigned>(fd);
    if (k > from && close_range_call(from, k - 1, 0) != 0) fallback = true;
    from = std::max(from, k + 1);
  }
  if (!fallback && close_range_call(from, UINT_MAX, 0) == 0) return;
  for (int fd : open_fds()) {
    if (fd >= 3 && !std::binary_search(sorted.begin(), sorted.end(), fd)) ::close(fd);
  }
}

void cloexec_from(int first) {
  if (close_range_call(static_cast<unsigned>(first), UINT_MAX, CLOSE_RANGE_CLOEXEC) == 0) return;
  for (int fd : open_fds())
    if (fd >= first) set_cloexec(fd);
}

void set_cloexec(int fd) {
  const int flags = ::fcntl(fd, F_GETFD);
  if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

void set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

}  // namespace uasyncd::exec::detail
