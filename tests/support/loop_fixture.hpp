// A fresh loop on the virtual clock for every test, so timed behaviour runs in no real time.
#pragma once

#include <gtest/gtest.h>
#include <uasyncio/uasyncio.hpp>

#include <string>
#include <vector>

class LoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uasyncio::Loop& loop = uasyncio::new_event_loop();
    loop.set_exception_handler(nullptr);
    loop.set_virtual_clock(true);
    start_ms_ = loop.time_ms();
  }
  void TearDown() override { uasyncio::new_event_loop(); }

  // Milliseconds of loop time since the test started.
  std::int64_t elapsed_ms() { return uasyncio::get_event_loop().time_ms() - start_ms_; }
  // Records a line, as the MicroPython tests print them.
  void log(std::string line) { lines_.push_back(std::move(line)); }
  std::vector<std::string> lines_;

 private:
  std::int64_t start_ms_ = 0;
};
