// Outcome<T>: what one child of gather(return_exceptions, ...) ended with: its value, or the
// exception that ended it (Python puts the exception object in the result list, §10.6).
// A value type: it owns its value and shares the exception object; no thread rules of its own.
#pragma once

#include <exception>
#include <type_traits>
#include <utility>
#include <variant>

#include "uasyncio/errors.hpp"

namespace uasyncio {

// Python's None: the value of a coroutine that returns nothing (gather gives it for a void
// child), and the "no timeout" of wait_for(aw, None) (§9.2).
struct None {
  friend bool operator==(None, None) noexcept { return true; }
};

// The value a coroutine returning T gives gather: T, or None for void.
template <class T>
using value_or_none_t = std::conditional_t<std::is_void_v<T>, None, T>;

template <class T>
class Outcome {
 public:
  using value_type = value_or_none_t<T>;

  Outcome(value_type v) : v_(std::in_place_index<0>, std::move(v)) {}          // NOLINT: implicit
  Outcome(std::exception_ptr e) : v_(std::in_place_index<1>, std::move(e)) {}  // NOLINT

  // True when the child returned (the list entry is its value, not an exception).
  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }
  // The value; rethrows the exception if the child failed.
  const value_type& value() const {
    if (!has_value()) std::rethrow_exception(std::get<1>(v_));
    return std::get<0>(v_);
  }
  // The exception that ended the child, or null.
  std::exception_ptr exception() const noexcept { return has_value() ? nullptr : std::get<1>(v_); }
  // True if the child ended with an exception of type E (or derived from it).
  template <class E>
  bool holds() const noexcept {
    return !has_value() && uasyncio::holds<E>(std::get<1>(v_));
  }

 private:
  std::variant<value_type, std::exception_ptr> v_;
};

}  // namespace uasyncio
