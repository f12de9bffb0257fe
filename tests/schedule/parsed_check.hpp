// Checking what the schedule library made of an input in the tests: the value it accepted, or
// the refusal and the field it names.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "uasyncd/schedule/schedule_error.hpp"

namespace schedule_test {

// The accepted value (a default one, after a failure naming `input`, if it was refused).
template <class T>
T accepted(const uasyncd::schedule::Parsed<T>& parsed, const std::string& input) {
  EXPECT_TRUE(parsed) << input << ": " << parsed.error.message;
  return parsed.value.value_or(T{});
}

// The refusal's message, after checking that `input` was refused and that `field` is named.
template <class T>
std::string refused(const uasyncd::schedule::Parsed<T>& parsed, const std::string& input,
                    const std::string& field) {
  EXPECT_FALSE(parsed) << input;
  EXPECT_EQ(parsed.error.field, field) << input;
  return parsed.error.message;
}

}  // namespace schedule_test
