// Where coroutine frames come from (the promise's operator new / delete). A task is one frame,
// so this is the allocation of create_task. malloc + free cost ~100 instructions a pair and a
// chunk header per frame, and glibc hands the memory of a million freed frames back to the
// kernel, which then charges a page fault per 4 KiB to the next million. Here a frame is a pop
// from / push onto a per-thread free list of its 16-byte size class, and freed frames stay
// ready for the next ones.
//
// Memory is kept, never returned to the system: at most the peak of live frames. When a thread
// ends, its free blocks and the unused rest of its slab go to a shared depot that the other
// threads' pools draw on, so thread churn does not leak. A frame may be freed by another thread
// than the one that made it (it joins the freeing thread's list).
//
// Under AddressSanitizer or ThreadSanitizer the pool is off (frames use operator new), so the
// sanitizers still see every frame's lifetime (a pool would hide a use after free).
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

namespace uasyncio::detail {

// g++ defines __SANITIZE_*__; clang 14 says so only through __has_feature.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UASYNCIO_FRAME_POOL_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UASYNCIO_FRAME_POOL_OFF 1
#endif
#endif

#ifdef UASYNCIO_FRAME_POOL_OFF
inline constexpr bool kFramePoolEnabled = false;
#else
inline constexpr bool kFramePoolEnabled = true;
#endif

class FramePool {
 public:
  // g++ lays a frame out for operator new's alignment (16), so every block keeps it.
  static constexpr std::size_t kGranule = 16;
  static constexpr std::size_t kMaxBlock = 1024;  // bigger frames are rare: operator new
  static constexpr std::size_t kClasses = kMaxBlock / kGranule;

  static constexpr std::size_t class_of(std::size_t n) { return (n - 1) / kGranule; }
  static constexpr std::size_t block_bytes(std::size_t c) { return (c + 1) * kGranule; }

  void* allocate(std::size_t n) {
    if (n > kMaxBlock) return ::operator new(n);
    ++allocations_;
    Block*& head = free_[class_of(n)];
    if (Block* b = head) {
      head = b->next;
      return b;
    }
    return allocate_slow(class_of(n));
  }

  void deallocate(void* p, std::size_t n) noexcept {
    if (n > kMaxBlock) {
      ::operator delete(p, n);
      return;
    }
    if (exited_) {
      give_to_depot(p, class_of(n));
      return;
    }
    Block* b = static_cast<Block*>(p);
    Block*& head = free_[class_of(n)];
    b->next = head;
    head = b;
  }

  // Frames this thread's pool has handed out (what operator new would have counted).
  std::uint64_t allocations() const { return allocations_; }

  struct Block {
    Block* next;
  };

 private:
  void* allocate_slow(std::size_t c);
  static void give_to_depot(void* p, std::size_t c) noexcept;
  friend struct FramePoolExitHook;
  void on_thread_exit() noexcept;

  Block* free_[kClasses] = {};
  char* bump_ = nullptr;  // the unused rest of the current slab
  char* bump_end_ = nullptr;
  std::uint64_t allocations_ = 0;
  bool hooked_ = false;
  bool exited_ = false;
};

// Constant-initialised and trivially destructible, so reaching it costs no TLS wrapper call.
inline thread_local constinit FramePool frame_pool_of_thread{};

}  // namespace uasyncio::detail
