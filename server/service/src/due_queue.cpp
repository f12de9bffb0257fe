#include "uasyncd/service/due_queue.hpp"

#include <algorithm>
#include <functional>

namespace uasyncd::server {
namespace {

// std::push_heap makes a max-heap: "later" is "less", so the earliest is at the front.
bool later(const DueQueue::Due& a, const DueQueue::Due& b) {
  return a.at_ms != b.at_ms ? a.at_ms > b.at_ms : a.id > b.id;
}

}  // namespace

void DueQueue::push(Due due) {
  heap_.push_back(due);
  std::push_heap(heap_.begin(), heap_.end(), later);
}

void DueQueue::pop() {
  std::pop_heap(heap_.begin(), heap_.end(), later);
  heap_.pop_back();
  // Give back what a burst of scheduled tasks left behind once most have fired.
  if (heap_.capacity() > 1024 && heap_.size() < heap_.capacity() / 4) heap_.shrink_to_fit();
}

void DueQueue::clear() {
  heap_.clear();
  heap_.shrink_to_fit();
}

void IdBitmap::insert(std::uint64_t id) {
  const std::uint64_t word_base = id - id % 64;
  if (words_.empty()) {
    base_ = word_base;
  } else if (word_base < base_) {
    words_.insert(words_.begin(), (base_ - word_base) / 64, 0);
    base_ = word_base;
  }
  const std::size_t word = (id - base_) / 64;
  if (word >= words_.size()) words_.resize(word + 1, 0);
  const std::uint64_t bit = std::uint64_t{1} << (id % 64);
  if ((words_[word] & bit) == 0) ++count_;
  words_[word] |= bit;
}

void IdBitmap::erase(std::uint64_t id) {
  if (!contains(id)) return;
  words_[(id - base_) / 64] &= ~(std::uint64_t{1} << (id % 64));
  if (--count_ == 0) clear();
}

bool IdBitmap::contains(std::uint64_t id) const {
  if (words_.empty() || id < base_) return false;
  const std::size_t word = (id - base_) / 64;
  return word < words_.size() && (words_[word] >> (id % 64) & 1) != 0;
}

void IdBitmap::clear() {
  words_.clear();
  words_.shrink_to_fit();
  base_ = 0;
  count_ = 0;
}

}  // namespace uasyncd::server
