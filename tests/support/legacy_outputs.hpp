// What the stores' migration tests find after moving a task's old output blob (schema 6 of
// SQLite, 3 of PostgreSQL: one value for every ended step) into rows of their own: the task,
// an exec gather whose steps 1 and 2 had ended, reads back with those steps' outputs as written.
//
// Thread rules: the test's thread. Lifetime: plain functions.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "uasyncd/store/job_row.hpp"

namespace test_support {

// The job of `row`, its legacy outputs checked; nullptr (the failure recorded) if it cannot be
// read back or lacks them.
inline std::shared_ptr<uasyncd::server::Job> job_with_legacy_outputs(
    const uasyncd::server::JobRow& row) {
  std::string why;
  std::shared_ptr<uasyncd::server::Job> job = uasyncd::server::job_of(row, why);
  if (!job || !job->step(1).exec() || !job->step(2).exec()) {
    ADD_FAILURE() << "the migrated task lacks its steps' outputs: " << why;
    return nullptr;
  }
  EXPECT_EQ(job->step(1).exec()->out.kept(), "step one\n");
  EXPECT_EQ(job->step(2).exec()->out.kept(), std::string("\xff bytes", 7));
  EXPECT_EQ(job->step(2).exec()->err.kept(), "oops\n");
  EXPECT_EQ(job->step(2).exec()->exit_code, 3);
  return job;
}

}  // namespace test_support
