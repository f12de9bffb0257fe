// Intrusive FIFO of waiting tasks. A Waiter lives in the frame of the coroutine that waits
// (inside its awaiter object), so waiting never allocates; a waiter unlinks itself when it is
// destroyed, so an abandoned frame never leaves a dangling node behind.
#pragma once

namespace uasyncio::detail {

struct TaskHeader;
class WaitList;

struct Waiter {
  explicit Waiter(TaskHeader* waiting_task) : task(waiting_task) {}
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;
  inline ~Waiter();

  bool linked() const { return list != nullptr; }

  TaskHeader* task;
  // Set while the waiting task awaits another task: cancel() is forwarded there (§6.3).
  TaskHeader* awaited = nullptr;
  Waiter* next = nullptr;
  Waiter** pprev = nullptr;
  WaitList* list = nullptr;
};

class WaitList {
 public:
  WaitList() = default;
  WaitList(const WaitList&) = delete;
  WaitList& operator=(const WaitList&) = delete;
  ~WaitList() { detach_all(); }

  bool empty() const { return head_ == nullptr; }
  Waiter* front() const { return head_; }

  void push_back(Waiter* w) {
    w->next = nullptr;
    w->pprev = tail_;
    *tail_ = w;
    tail_ = &w->next;
    w->list = this;
  }

  void remove(Waiter* w) {
    *w->pprev = w->next;
    if (w->next != nullptr) {
      w->next->pprev = w->pprev;
    } else {
      tail_ = w->pprev;
    }
    w->next = nullptr;
    w->pprev = nullptr;
    w->list = nullptr;
  }

  Waiter* pop_front() {
    Waiter* w = head_;
    if (w != nullptr) remove(w);
    return w;
  }

  // Forgets every node without touching the tasks: used when the list's owner goes away.
  void detach_all() {
    while (head_ != nullptr) remove(head_);
  }

 private:
  Waiter* head_ = nullptr;
  Waiter** tail_ = &head_;
};

inline Waiter::~Waiter() {
  if (list != nullptr) list->remove(this);
}

}  // namespace uasyncio::detail
