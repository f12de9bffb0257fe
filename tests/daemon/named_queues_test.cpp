// Named queues in the service, on the virtual clock: each queue's own limit of running tasks,
// pause and resume, limits changed at run time, priorities within a queue, the counts GET
// /api/queues shows, and settings that survive a restart with the start flags over them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "service_fixture.hpp"

using nlohmann::json;
using srv::JobState;

namespace {

class Queues : public Service {
 protected:
  json queue(const std::string& name) {
    srv::Result<json> q = service_->queue(name);
    EXPECT_TRUE(q) << name;
    return q ? q.value() : json();
  }
  json set(const std::string& name, std::optional<std::size_t> max, std::optional<bool> paused) {
    srv::WriteTicket ticket = 0;
    srv::Result<json> q = service_->set_queue(name, max, paused, ticket);
    EXPECT_TRUE(q);
    return q ? q.value() : json();
  }
  std::vector<std::uint64_t> submit_n(int n, const json& spec) {
    std::vector<std::uint64_t> ids;
    for (int i = 0; i < n; ++i)
      ids.push_back(submit(spec));
    return ids;
  }
  int count_in(const std::vector<std::uint64_t>& ids, JobState s) {
    int n = 0;
    for (std::uint64_t id : ids)
      n += state_of(id) == s ? 1 : 0;
    return n;
  }
};

}  // namespace

TEST_F(Queues, EachQueueHasItsOwnLimitAndTheDefaultOneIsMaxRunning) {
  srv::ServiceOptions o;
  o.max_running = 2;
  o.queue_limits = {{"builds", 1}};
  start(o);
  const auto builds = submit_n(3, {{"sleep", 1}, {"queue", "builds"}});
  const auto plain = submit_n(3, {{"sleep", 1}});
  const auto emails = submit_n(4, {{"sleep", 1}, {"queue", "emails"}});  // unconfigured: no limit
  run_for(1);
  EXPECT_EQ(count_in(builds, JobState::running), 1);
  EXPECT_EQ(count_in(plain, JobState::running), 2);
  EXPECT_EQ(count_in(emails, JobState::running), 4);
  const json b = queue("builds");
  EXPECT_EQ(b["max_running"], 1);
  EXPECT_EQ(b["running"], 1);
  EXPECT_EQ(b["pending"], 2);
  EXPECT_EQ(queue("default")["pending"], 1);
  srv::Result<json> got = service_->get({builds[2], std::nullopt});
  ASSERT_TRUE(got);
  EXPECT_EQ(got.value()["queue"], "builds");
  EXPECT_EQ(got.value()["queue_position"], 2);  // its place in its own queue
  EXPECT_EQ(got.value()["queue_length"], 2);
  run_for(3'100);
  EXPECT_EQ(count_in(builds, JobState::done), 3);
  EXPECT_EQ(count_in(plain, JobState::done), 3);
  EXPECT_GT(queue("builds")["finished_per_second"].get<double>(), 0.0);
}

TEST_F(Queues, APausedQueueStartsNothingUntilResumedAndOthersGoOn) {
  start();
  set("builds", std::nullopt, true);
  const auto builds = submit_n(2, {{"value", 1}, {"queue", "builds"}});
  const std::uint64_t other = submit({{"value", 1}});
  run_for(100);
  EXPECT_EQ(count_in(builds, JobState::pending), 2);
  EXPECT_EQ(state_of(other), JobState::done);
  const json resumed = set("builds", std::nullopt, false);
  EXPECT_EQ(resumed["paused"], false);
  run_for(100);
  EXPECT_EQ(count_in(builds, JobState::done), 2);
}

TEST_F(Queues, PausingKeepsRunningTasksAndARaisedLimitStartsWaitingOnesAtOnce) {
  srv::ServiceOptions o;
  o.queue_limits = {{"builds", 1}};
  start(o);
  const auto builds = submit_n(4, {{"sleep", 10}, {"queue", "builds"}});
  run_for(1);
  set("builds", std::nullopt, true);
  run_for(1);
  EXPECT_EQ(count_in(builds, JobState::running), 1);  // a pause stops starts, not runs
  set("builds", 3, false);
  run_for(1);
  EXPECT_EQ(count_in(builds, JobState::running), 3);
  EXPECT_EQ(queue("builds")["max_running"], 3);
}

TEST_F(Queues, PrioritiesOrderStartsWithinAQueue) {
  srv::ServiceOptions o;
  o.queue_limits = {{"q", 1}};
  start(o);
  const std::uint64_t busy = submit({{"sleep", 1}, {"queue", "q"}});
  const std::uint64_t low = submit({{"sleep", 1}, {"queue", "q"}});
  const std::uint64_t high = submit({{"sleep", 1}, {"queue", "q"}, {"priority", 9}});
  run_for(1'500);
  EXPECT_EQ(state_of(busy), JobState::done);
  EXPECT_EQ(state_of(high), JobState::running);
  EXPECT_EQ(state_of(low), JobState::pending);
}

TEST_F(Queues, ScheduledTasksAreCountedInTheirQueue) {
  start();
  submit({{"value", 1}, {"queue", "later"}, {"delay", 60}});
  run_for(1);
  EXPECT_EQ(queue("later")["scheduled"], 1);
  run_for(60'000);
  EXPECT_EQ(queue("later")["scheduled"], 0);
}

TEST_F(Queues, TheListHasTheDefaultQueueAndEveryConfiguredOrUsedOne) {
  srv::ServiceOptions o;
  o.queue_limits = {{"builds", 2}};
  start(o);
  submit({{"value", 1}, {"queue", "emails"}});
  const json list = service_->queue_list();
  std::vector<std::string> names;
  for (const json& q : list)
    names.push_back(q["name"].get<std::string>());
  EXPECT_EQ(names, (std::vector<std::string>{"builds", "default", "emails"}));
  EXPECT_TRUE(service_->queue("nowhere").is(srv::JobErrorCode::not_found));
}

TEST_F(Queues, SettingsSurviveARestartAndStartFlagsReplaceStoredLimits) {
  start();
  service_->restore();
  set("builds", 4, true);
  set("emails", 7, std::nullopt);
  service_.reset();
  srv::ServiceOptions o;
  o.queue_limits = {{"emails", 9}};  // given again at start: replaces the stored 7
  start(o);
  service_->restore();
  EXPECT_EQ(queue("builds")["max_running"], 4);
  EXPECT_EQ(queue("builds")["paused"], true);
  EXPECT_EQ(queue("emails")["max_running"], 9);
  service_.reset();
  start();
  service_->restore();
  EXPECT_EQ(queue("emails")["max_running"], 9);  // the flag's limit was stored
}

TEST(QueueSpec, TheQueueKeyIsANameOfTheSameRuleAsSchedules) {
  EXPECT_EQ(srv::parse_job_spec({{"value", 1}}).spec->queue, "default");
  EXPECT_EQ(srv::parse_job_spec({{"value", 1}, {"queue", "a.b_c-9"}}).spec->queue, "a.b_c-9");
  for (const json& bad : {json("a b"), json(""), json(std::string(129, 'q')), json(5)}) {
    srv::ParsedSpec p = srv::parse_job_spec({{"value", 1}, {"queue", bad}});
    ASSERT_FALSE(p) << bad.dump();
    EXPECT_EQ(p.error.message.rfind("$.queue: ", 0), 0u) << p.error.message;
  }
  srv::ParsedSpec nested = srv::parse_job_spec({{"sequence", {{{"value", 1}, {"queue", "q"}}}}});
  EXPECT_FALSE(nested);  // a root key only
}
