// IntrusivePtr<T>: the one reference-counted handle of this library (tasks, streams, servers,
// processes). The count lives in the object; what "the last reference went" means is the
// object's own business, found by argument-dependent lookup:
//
//   void intrusive_add_ref(T*) noexcept;
//   void intrusive_release(T*) noexcept;  // may free the object, or start closing it
//
// as boost::intrusive_ptr does. Copying costs an increment, moving nothing.
//
// Thread rules: the counts are not atomic. Every handle to an object belongs to the thread of
// the loop that owns the object.
#pragma once

#include <utility>

namespace uasyncio::detail {

// Tag: a pointer made with it takes over a reference already counted.
struct AdoptRef {};

template <class T>
class IntrusivePtr {
 public:
  IntrusivePtr() noexcept = default;
  explicit IntrusivePtr(T* p) noexcept : p_(p) {
    if (p_ != nullptr) intrusive_add_ref(p_);
  }
  IntrusivePtr(T* p, AdoptRef) noexcept : p_(p) {}
  IntrusivePtr(const IntrusivePtr& o) noexcept : IntrusivePtr(o.p_) {}
  IntrusivePtr(IntrusivePtr&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  IntrusivePtr& operator=(IntrusivePtr o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~IntrusivePtr() {
    if (p_ != nullptr) intrusive_release(p_);
  }

  T* get() const noexcept { return p_; }
  T& operator*() const noexcept { return *p_; }
  T* operator->() const noexcept { return p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  // Gives up the reference without releasing it.
  T* detach() noexcept { return std::exchange(p_, nullptr); }

  friend bool operator==(const IntrusivePtr& a, const IntrusivePtr& b) noexcept {
    return a.p_ == b.p_;
  }

 private:
  T* p_ = nullptr;
};

}  // namespace uasyncio::detail
