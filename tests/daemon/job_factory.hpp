// Jobs made for tests of the store and the service, in the states a test needs.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>

#include "uasyncd/job/job.hpp"

inline std::shared_ptr<uasyncd::server::Job> make_job(std::uint64_t id, const nlohmann::json& spec,
                                                      std::int64_t created_ms = 1000) {
  uasyncd::server::ParsedSpec p = uasyncd::server::parse_job_spec(spec);
  EXPECT_TRUE(p) << p.error.message;
  return std::make_shared<uasyncd::server::Job>(
      id, std::make_shared<uasyncd::server::JobSpec>(std::move(*p.spec)),
      std::make_shared<nlohmann::json>(spec), created_ms);
}

// A job that ran once and ended in `state` at `finished_ms` (its result: its id).
inline std::shared_ptr<uasyncd::server::Job> finished_job(std::uint64_t id,
                                                          const nlohmann::json& spec,
                                                          uasyncd::server::JobState state,
                                                          std::int64_t finished_ms = 2000) {
  auto job = make_job(id, spec);
  job->start(finished_ms - 1);
  std::optional<uasyncd::server::ErrorInfo> error;
  if (state != uasyncd::server::JobState::done)
    error = uasyncd::server::ErrorInfo{"Exception", "x"};
  job->finish(state, nlohmann::json(id), error, finished_ms);
  return job;
}
