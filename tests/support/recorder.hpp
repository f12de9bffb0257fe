// LoopTest for free functions: coroutines that are not members of the fixture record lines with
// say() and stamp them with the virtual time with at(), as MicroPython's tests print.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loop_fixture.hpp"

using Lines = std::vector<std::string>;

class Recorder : public LoopTest {
 public:
  static void say(std::string line) { active->log(std::move(line)); }
  static std::int64_t now() { return active->elapsed_ms(); }

 protected:
  void SetUp() override {
    LoopTest::SetUp();
    active = this;
  }
  void TearDown() override {
    LoopTest::TearDown();
    active = nullptr;
  }

 private:
  static inline Recorder* active = nullptr;
};

inline void say(std::string line) {
  Recorder::say(std::move(line));
}
// The line with the milliseconds of virtual time since the test started: "what @ms".
inline std::string at(const std::string& what) {
  return what + " @" + std::to_string(Recorder::now());
}
