// Intrusive FIFO of waiting tasks. A Waiter lives in the frame of the coroutine that waits
// (inside its awaiter object), so waiting never allocates; a waiter unlinks itself when it is
// destroyed, so an abandoned frame never leaves a dangling node behind. The nodes form a ring
// and the list holds only its last node (whose `next` is the first): one pointer, which keeps
// every task header (that embeds a WaitList) and so every task's frame 8 bytes smaller.
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
  Waiter* prev = nullptr;
  WaitList* list = nullptr;
};

class WaitList {
 public:
  WaitList() = default;
  WaitList(const WaitList&) = delete;
  WaitList& operator=(const WaitList&) = delete;
  ~WaitList() { detach_all(); }

  bool empty() const { return tail_ == nullptr; }
  Waiter* front() const { return tail_ != nullptr ? tail_->next : nullptr; }

  void push_back(Waiter* w) {
    if (tail_ == nullptr) {
      w->next = w;
      w->prev = w;
    } else {
      w->next = tail_->next;
      w->prev = tail_;
      tail_->next->prev = w;
      tail_->next = w;
    }
    tail_ = w;
    w->list = this;
  }

  void remove(Waiter* w) {
    if (w->next == w) {
      tail_ = nullptr;
    } else {
      w->prev->next = w->next;
      w->next->prev = w->prev;
      if (tail_ == w) tail_ = w->prev;
    }
    w->next = nullptr;
    w->prev = nullptr;
    w->list = nullptr;
  }

  Waiter* pop_front() {
    Waiter* w = front();
    if (w != nullptr) remove(w);
    return w;
  }

  // Forgets every node without touching the tasks: used when the list's owner goes away.
  void detach_all() {
    while (tail_ != nullptr)
      remove(tail_->next);
  }

 private:
  Waiter* tail_ = nullptr;  // the last node; tail_->next is the first
};

inline Waiter::~Waiter() {
  if (list != nullptr) list->remove(this);
}

}  // namespace uasyncio::detail
