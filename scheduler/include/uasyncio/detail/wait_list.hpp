// Intrusive FIFO of waiting tasks. A Waiter lives in the frame of the coroutine that waits
// (inside its awaiter object), so waiting never allocates; a waiter unlinks itself when it is
// destroyed, so an abandoned frame never leaves a dangling node behind. The nodes form a ring
// and the list holds only its last node (whose `next` is the first): one pointer, which keeps
// every task header (that embeds a WaitList) and so every task's frame 8 bytes smaller.
//
// A waiter parked on anything but another task (a ParkedWaiter) is also linked into one of its
// scheduler's rings of parked waiters, so that the scheduler can find, and on reset destroy, a
// task whose only link is a wait list the scheduler cannot see (an Event's, a Lock's, a
// socket's...). The ring link stays until the node is destroyed (the awaiter ends with the await
// expression); whether the task still waits there is `task->waiting_on == node`.
//
// Thread rules: a list and its nodes belong to one loop's thread.
#pragma once

namespace uasyncio::detail {

struct TaskHeader;
class WaitList;

// A node of a Ring: a doubly-linked ring headed by a sentinel, so a node unlinks itself without
// knowing the ring.
struct RingLink {
  RingLink* ring_next = nullptr;  // null: not in a ring
  RingLink* ring_prev = nullptr;

  bool in_ring() const noexcept { return ring_next != nullptr; }
  void unlink_from_ring() noexcept {
    ring_next->ring_prev = ring_prev;
    ring_prev->ring_next = ring_next;
    ring_next = ring_prev = nullptr;
  }
};

struct Waiter {
  Waiter() = default;
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;
  inline ~Waiter();

  bool linked() const { return list != nullptr; }

  // The waiting task; null until the awaiter parks it (an awaiter that did not suspend has
  // nothing to undo).
  TaskHeader* task = nullptr;
  // Set while the waiting task awaits another task: cancel() is forwarded there (§6.3).
  TaskHeader* awaited = nullptr;
  Waiter* next = nullptr;
  Waiter* prev = nullptr;
  WaitList* list = nullptr;
};

// A waiter of a primitive (anything but a task): also in its scheduler's ring of parked waiters.
struct ParkedWaiter : Waiter, RingLink {
  ParkedWaiter() = default;
  ~ParkedWaiter() {
    if (in_ring()) unlink_from_ring();
  }
};

// A ring of nodes of type Node (derived from RingLink), headed by a sentinel.
template <class Node>
class Ring {
 public:
  Ring() noexcept { head_.ring_next = head_.ring_prev = &head_; }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  // Unlinks the nodes still linked (their owners may outlive the ring).
  ~Ring() {
    while (!empty())
      head_.ring_next->unlink_from_ring();
  }

  bool empty() const noexcept { return head_.ring_next == &head_; }
  void push_back(Node* n) noexcept {
    RingLink* l = n;
    l->ring_prev = head_.ring_prev;
    l->ring_next = &head_;
    head_.ring_prev->ring_next = l;
    head_.ring_prev = l;
  }
  // The first node, or null.
  Node* front() const noexcept { return empty() ? nullptr : static_cast<Node*>(head_.ring_next); }
  // Calls f(node) for each node; f may unlink the node it is given (and no other).
  template <class F>
  void for_each(F&& f) const {
    RingLink* l = head_.ring_next;
    while (l != &head_) {
      RingLink* next = l->ring_next;
      f(static_cast<Node*>(l));
      l = next;
    }
  }

 private:
  RingLink head_;
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

  // Forgets every node without touching the tasks: used when the list's owner goes away. A task
  // left this way is still in its scheduler's parked ring, which owns it from then on.
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
