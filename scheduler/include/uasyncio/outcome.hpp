// Outcome<T>: what one child of gather(return_exceptions, ...) ended with: its value, or the
// exception that ended it (Python puts the exception object in the result list, §10.6).
#pragma once

#include <exception>
#include <type_traits>
#include <utility>
#include <variant>

namespace uasyncio {

// The placeholder value of a coroutine that returns nothing (Python's None).
struct None {
  friend bool operator==(None, None) noexcept { return true; }
};

template <class T>
using value_or_none_t = std::conditional_t<std::is_void_v<T>, None, T>;

template <class T>
class Outcome {
 public:
  using value_type = value_or_none_t<T>;

  Outcome(value_type v) : v_(std::in_place_index<0>, std::move(v)) {}  // NOLINT: implicit
  Outcome(std::exception_ptr e) : v_(std::in_place_index<1>, std::move(e)) {}  // NOLINT

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }
  // The value; rethrows the exception if the child failed.
  const value_type& value() const {
    if (!has_value()) std::rethrow_exception(std::get<1>(v_));
    return std::get<0>(v_);
  }
  // The exception that ended the child, or null.
  std::exception_ptr exception() const noexcept {
    return has_value() ? nullptr : std::get<1>(v_);
  }
  // True if the child ended with an exception of type E (or derived from it).
  template <class E>
  bool holds() const noexcept {
    if (has_value()) return false;
    try {
      std::rethrow_exception(std::get<1>(v_));
    } catch (const E&) {
      return true;
    } catch (...) {
      return false;
    }
  }

 private:
  std::variant<value_type, std::exception_ptr> v_;
};

}  // namespace uasyncio
