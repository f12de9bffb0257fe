// The frame pool's slow paths: slabs, the depot shared by all threads, and thread exit.
#include "uasyncio/detail/frame_allocator.hpp"

#include <sys/mman.h>

#include <mutex>
#include <new>

namespace uasyncio::detail {
namespace {

// Slabs are mapped with MAP_POPULATE: the kernel fills all their pages in one call, which costs
// far less than taking one page fault per 4 KiB as the frames are first written (page faults
// are slow on virtual machines: several microseconds each).
constexpr std::size_t kSlabBytes = 256 * 1024;

using Block = FramePool::Block;

// An unused stretch of a slab; its first bytes hold this header.
struct Region {
  Region* next;
  std::size_t bytes;
};

struct Depot {
  std::mutex mutex;
  Block* free[FramePool::kClasses] = {};
  Region* regions = nullptr;
};
// Trivially destructible, so it outlives every thread's and every static object's last frame.
constinit Depot depot{};

char* new_slab() {
  void* p = mmap(nullptr, kSlabBytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return static_cast<char*>(p);
}

// Keeps an unused stretch for another thread (blocks are multiples of 16 bytes, so is it).
void keep_region_locked(char* p, std::size_t bytes) {
  if (bytes < sizeof(Region)) return;
  auto* r = reinterpret_cast<Region*>(p);
  r->bytes = bytes;
  r->next = depot.regions;
  depot.regions = r;
}

// A kept stretch of at least `bytes`, taken out of the depot, or null.
Region* take_region_locked(std::size_t bytes) {
  for (Region** link = &depot.regions; *link != nullptr; link = &(*link)->next) {
    Region* r = *link;
    if (r->bytes >= bytes) {
      *link = r->next;
      return r;
    }
  }
  return nullptr;
}

}  // namespace

// Runs the pool's thread-exit step when its thread ends (registered on the first slow path).
struct FramePoolExitHook {
  FramePool* pool = nullptr;
  FramePoolExitHook() = default;
  FramePoolExitHook(const FramePoolExitHook&) = delete;
  FramePoolExitHook& operator=(const FramePoolExitHook&) = delete;
  ~FramePoolExitHook() {
    if (pool != nullptr) pool->on_thread_exit();
  }
};

void* FramePool::allocate_slow(std::size_t c) {
  const std::size_t bytes = block_bytes(c);
  if (exited_) {
    // A frame made during thread teardown: served straight from the depot.
    std::lock_guard lock(depot.mutex);
    if (Block* b = depot.free[c]) {
      depot.free[c] = b->next;
      return b;
    }
    char* p = new_slab();
    keep_region_locked(p + bytes, kSlabBytes - bytes);
    return p;
  }
  if (!hooked_) {
    static thread_local FramePoolExitHook hook;
    hook.pool = this;
    hooked_ = true;
  }
  if (static_cast<std::size_t>(bump_end_ - bump_) < bytes) {
    std::lock_guard lock(depot.mutex);
    if (Block* b = depot.free[c]) {
      // Adopt the whole list an ended thread left behind.
      depot.free[c] = nullptr;
      free_[c] = b->next;
      return b;
    }
    // The rest of the current slab (under kMaxBlock bytes) stays unused.
    if (Region* r = take_region_locked(bytes)) {
      bump_ = reinterpret_cast<char*>(r);
      bump_end_ = bump_ + r->bytes;
    } else {
      bump_ = new_slab();
      bump_end_ = bump_ + kSlabBytes;
    }
  }
  void* p = bump_;
  bump_ += bytes;
  return p;
}

void FramePool::give_to_depot(void* p, std::size_t c) noexcept {
  std::lock_guard lock(depot.mutex);
  Block* b = static_cast<Block*>(p);
  b->next = depot.free[c];
  depot.free[c] = b;
}

void FramePool::on_thread_exit() noexcept {
  std::lock_guard lock(depot.mutex);
  for (std::size_t c = 0; c < kClasses; ++c) {
    Block* head = free_[c];
    if (head == nullptr) continue;
    Block* tail = head;
    while (tail->next != nullptr)
      tail = tail->next;
    tail->next = depot.free[c];
    depot.free[c] = head;
    free_[c] = nullptr;
  }
  keep_region_locked(bump_, static_cast<std::size_t>(bump_end_ - bump_));
  bump_ = bump_end_ = nullptr;
  exited_ = true;
}

}  // namespace uasyncio::detail
