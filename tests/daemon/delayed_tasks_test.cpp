// Delayed tasks ("delay" and "at") in the job service, on the virtual clock: scheduled until
// their time, in the order of their times, then pending under --max-running; cancel, timeouts,
// delete and waits while scheduled; restored after a restart, at once if their time passed.
#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <string>
#include <vector>

#include "job_factory.hpp"
#include "service_fixture.hpp"
#include "uasyncd/store/job_row.hpp"

using nlohmann::json;
using srv::JobState;

namespace {

class Delayed : public Service {
 protected:
  std::int64_t run_at_of(std::uint64_t id) { return stored(id).run_at_ms; }
};

// Whole seconds since the epoch as RFC 3339 text at UTC+01:00.
std::string at_text(std::int64_t seconds) {
  const std::time_t t = seconds + 3600;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[40];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S+01:00", &tm);
  return text;
}

}  // namespace

TEST_F(Delayed, ATaskIsScheduledUntilItsDelayThenRuns) {
  start();
  const std::int64_t before = srv::wall_ms();
  const std::uint64_t id = submit({{"value", 7}, {"delay", 2}});
  EXPECT_EQ(state_of(id), JobState::scheduled);
  EXPECT_EQ(backend_->count(JobState::scheduled), 1u);
  EXPECT_EQ(service_->scheduled(), 1u);
  srv::Result<json> got = service_->get({id, std::nullopt});
  ASSERT_TRUE(got);
  ASSERT_TRUE(got->at("run_at").is_number());
  const double run_at = got->at("run_at").get<double>();
  EXPECT_GE(run_at * 1000, static_cast<double>(before + 2000) - 1);
  EXPECT_LE(run_at * 1000, static_cast<double>(srv::wall_ms() + 2000) + 1);
  EXPECT_EQ(static_cast<double>(run_at_of(id)), run_at * 1000);
  EXPECT_FALSE(got->contains("queue_position"));
  // The sleeper starts at the loop's first turn and measures the delay against the wall clock
  // then: the wall time spent since the submit (long under the sanitizers on a loaded machine)
  // comes off the virtual wait, and lag bounds it.
  run_for(1);
  const std::int64_t lag = srv::wall_ms() - before;
  run_for(std::max<std::int64_t>(0, 1998 - lag));
  EXPECT_EQ(state_of(id), JobState::scheduled);
  run_for(lag + 20);
  EXPECT_EQ(state_of(id), JobState::done);
  EXPECT_EQ(stored(id).result, "7");
  EXPECT_EQ(stored(id).run_at_ms, run_at_of(id));  // kept: when it was meant to run
  EXPECT_EQ(backend_->states_of(id), (std::vector<JobState>{JobState::scheduled, JobState::pending,
                                                            JobState::running, JobState::done}));
  EXPECT_EQ(service_->scheduled(), 0u);
}

TEST_F(Delayed, TasksRunInTheOrderOfTheirTimesNotOfTheirSubmits) {
  start();
  const std::uint64_t c = submit({{"value", "c"}, {"delay", 3}});
  const std::uint64_t a = submit({{"value", "a"}, {"delay", 1}});
  const std::uint64_t now = submit({{"value", "now"}, {"delay", 0}});
  const std::uint64_t b = submit({{"value", "b"}, {"delay", 2}});
  run_for(10);
  EXPECT_EQ(state_of(now), JobState::done);
  EXPECT_EQ(state_of(a), JobState::scheduled);
  run_for(1000);
  EXPECT_EQ(state_of(a), JobState::done);
  EXPECT_EQ(state_of(b), JobState::scheduled);
  EXPECT_EQ(state_of(c), JobState::scheduled);
  run_for(1000);
  EXPECT_EQ(state_of(b), JobState::done);
  EXPECT_EQ(state_of(c), JobState::scheduled);
  run_for(1000);
  EXPECT_EQ(state_of(c), JobState::done);
}

TEST_F(Delayed, AnAtInThePastRunsAtOnceAndOneAheadWaits) {
  start();
  const std::uint64_t past = submit({{"value", 1}, {"at", "2001-09-09T01:46:40Z"}});
  EXPECT_EQ(run_at_of(past), 1000000000000);
  const std::int64_t in_a_day = srv::wall_ms() / 1000 + 86'400;
  const std::uint64_t ahead = submit({{"value", 2}, {"at", at_text(in_a_day)}});
  EXPECT_EQ(run_at_of(ahead), in_a_day * 1000);
  run_for(1);
  EXPECT_EQ(state_of(past), JobState::done);
  EXPECT_EQ(state_of(ahead), JobState::scheduled);
  run_for(3'600'000);
  EXPECT_EQ(state_of(ahead), JobState::scheduled);
}

TEST_F(Delayed, ADueTaskWaitsForAFreeSlotLikeAnyPendingOne) {
  srv::ServiceOptions o;
  o.max_running = 1;
  start(o);
  const std::uint64_t busy = submit({{"sleep", 10}});
  const std::uint64_t queued = submit({{"sleep", 1}});
  const std::uint64_t later = submit({{"value", 1}, {"delay", 1}});
  run_for(1500);
  EXPECT_EQ(state_of(later), JobState::pending);  // due, behind the queue
  srv::Result<json> got = service_->get({later, std::nullopt});
  ASSERT_TRUE(got);
  EXPECT_EQ(got->at("queue_position"), 2);
  run_for(9000);
  EXPECT_EQ(state_of(busy), JobState::done);
  EXPECT_EQ(state_of(queued), JobState::running);
  EXPECT_EQ(state_of(later), JobState::pending);
  run_for(1000);
  EXPECT_EQ(state_of(later), JobState::done);
}

TEST_F(Delayed, CancelEndsAScheduledTaskThatNeverRuns) {
  start();
  const std::uint64_t id = submit({{"value", 1}, {"delay", 5}});
  json heard;
  ASSERT_TRUE(service_->watch_finish(
      {id, std::nullopt}, [&](const srv::JobBody& body) { heard = json::parse(*body); }));
  srv::Result<json> r = service_->cancel({id, std::nullopt});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->at("state"), "cancelled");
  EXPECT_EQ(heard.value("state", ""), "cancelled");
  EXPECT_EQ(heard["error"]["message"], "cancelled while scheduled");
  EXPECT_EQ(service_->scheduled(), 0u);
  run_for(6000);
  EXPECT_EQ(state_of(id), JobState::cancelled);
  EXPECT_EQ(stored(id).attempts, 0);
  EXPECT_EQ(backend_->states_of(id),
            (std::vector<JobState>{JobState::scheduled, JobState::cancelled}));
  EXPECT_EQ(backend_->count(JobState::scheduled), 0u);
  // A step of a scheduled task is not running: nothing to cancel there.
  const std::uint64_t other = submit({{"sequence", json::array({{{"value", 1}}})}, {"delay", 5}});
  EXPECT_TRUE(service_->cancel({other, 1}).is(srv::JobErrorCode::not_running));
  EXPECT_EQ(state_of(other), JobState::scheduled);
}

TEST_F(Delayed, ATimeoutEndsAScheduledTaskTimedOut) {
  start();
  const std::uint64_t id = submit({{"value", 1}, {"delay", 10}});
  ASSERT_TRUE(service_->set_timeout({id, std::nullopt}, 2));
  run_for(1999);
  EXPECT_EQ(state_of(id), JobState::scheduled);
  run_for(2);
  EXPECT_EQ(state_of(id), JobState::timed_out);
  EXPECT_EQ(stored(id).attempts, 0);
  run_for(10'000);
  EXPECT_EQ(state_of(id), JobState::timed_out);  // its time came: nothing ran
}

TEST_F(Delayed, DeletingAScheduledTaskUnschedulesIt) {
  start();
  const std::uint64_t id = submit({{"value", 1}, {"delay", 5}});
  json heard;
  ASSERT_TRUE(service_->watch_finish(
      {id, std::nullopt}, [&](const srv::JobBody& body) { heard = json::parse(*body); }));
  srv::Result<srv::Removal> removed = service_->remove({id, std::nullopt});
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_EQ(heard.value("state", ""), "cancelled");
  EXPECT_EQ(service_->scheduled(), 0u);
  run_for(6000);
  EXPECT_FALSE(backend_->get(id));
  EXPECT_EQ(backend_->count(JobState::scheduled), 0u);
  EXPECT_EQ(backend_->count(JobState::cancelled), 0u);
  // Pending and running tasks still cannot be deleted.
  const std::uint64_t running = submit({{"sleep", 5}});
  EXPECT_TRUE(service_->remove({running, std::nullopt}).is(srv::JobErrorCode::not_finished));
}

TEST_F(Delayed, BulkCancelTakesScheduledTasksToo) {
  start();
  const std::uint64_t a = submit({{"value", 1}, {"delay", 5}});
  const std::uint64_t b = submit({{"sleep", 5}});
  const std::vector<std::uint64_t> ids{a, b};
  const std::vector<srv::BulkOutcome> out = service_->cancel_each(ids);
  EXPECT_EQ(
      out, (std::vector<srv::BulkOutcome>{srv::BulkOutcome::affected, srv::BulkOutcome::affected}));
  EXPECT_EQ(state_of(a), JobState::cancelled);  // at once; the running one at its next turn
  run_for(10);
  EXPECT_EQ(state_of(a), JobState::cancelled);
  EXPECT_EQ(state_of(b), JobState::cancelled);
}

TEST_F(Delayed, ShutdownLeavesScheduledTasksScheduled) {
  start();
  const std::uint64_t id = submit({{"value", 1}, {"delay", 5}});
  service_->cancel_all();
  EXPECT_EQ(service_->unfinished(), 0u);
  service_->release_all();
  EXPECT_EQ(stored(id).state, JobState::scheduled);
}

TEST_F(Delayed, RestoredScheduledTasksRunAtTheirTimeOrAtOnceIfItPassed) {
  auto missed = make_job(1, {{"value", "missed"}, {"delay", 1}});
  missed->schedule(srv::wall_ms() - 60'000);  // due while no daemon ran
  auto ahead = make_job(2, {{"value", "ahead"}, {"delay", 1}});
  const std::int64_t scheduled_at = srv::wall_ms();
  ahead->schedule(scheduled_at + 5'000);
  for (const auto& job : {missed, ahead}) {
    backend_->insert(*job);
    backend_->stored_live.push_back(srv::row_of(*job, true));
  }
  start();
  service_->restore();
  EXPECT_EQ(service_->scheduled(), 2u);
  run_for(1);
  EXPECT_EQ(state_of(1), JobState::done);
  EXPECT_EQ(state_of(2), JobState::scheduled);
  const std::int64_t lag = srv::wall_ms() - scheduled_at;  // off the virtual wait, as above
  run_for(std::max<std::int64_t>(0, 4'900 - lag));
  EXPECT_EQ(state_of(2), JobState::scheduled);
  run_for(lag + 200);
  EXPECT_EQ(state_of(2), JobState::done);
  EXPECT_EQ(stored(2).attempts, 1);
}

// The delay is measured when the sleeper first runs, not when the task was made: a restore of
// many tasks (or a batch of submits) holds the loop, and the time it takes must not be added.
TEST_F(Delayed, TimeSpentBeforeTheLoopTurnsIsNotAddedToTheDelay) {
  auto job = make_job(1, {{"value", 1}, {"delay", 1}});
  job->schedule(srv::wall_ms() + 1'000);
  backend_->insert(*job);
  backend_->stored_live.push_back(srv::row_of(*job, true));
  start();
  service_->restore();
  // The loop does not turn meanwhile (its clock, virtual here, stands still): 300 ms of wall time
  // pass as a long restore would take them.
  const std::int64_t until = srv::wall_ms() + 300;
  while (srv::wall_ms() < until) {
  }
  run_for(800);
  EXPECT_EQ(state_of(1), JobState::done);
}

// A task not due within 2 s leaves RAM once its insert is committed: the service keeps a 16-byte
// entry, the backend the job. It comes back when it is due, or when a request names it.
TEST_F(Delayed, AFarTaskIsParkedUntilItIsDueAndThenRuns) {
  start();
  const std::uint64_t far = submit({{"value", 1}, {"delay", 60}});
  const std::uint64_t near = submit({{"value", 2}, {"delay", 1}});
  run_for(200);
  EXPECT_EQ(service_->parked(), 1u);  // the far one; the near one stays live
  EXPECT_EQ(service_->scheduled(), 2u);
  EXPECT_EQ(stored(far).state, JobState::scheduled);
  run_for(60'000);
  EXPECT_EQ(service_->parked(), 0u);
  EXPECT_EQ(state_of(far), JobState::done);
  EXPECT_EQ(state_of(near), JobState::done);
  EXPECT_EQ(backend_->states_of(far), (std::vector<JobState>{JobState::scheduled, JobState::pending,
                                                             JobState::running, JobState::done}));
  EXPECT_EQ(service_->scheduled(), 0u);
}

TEST_F(Delayed, AParkedTaskAnswersGetCancelTimeoutAndDelete) {
  start();
  const std::uint64_t a = submit({{"value", 1}, {"delay", 600}});
  const std::uint64_t b = submit({{"value", 1}, {"delay", 600}});
  const std::uint64_t c = submit({{"value", 1}, {"delay", 600}});
  run_for(200);
  ASSERT_EQ(service_->parked(), 3u);
  srv::Result<json> got = service_->get({a, std::nullopt});
  ASSERT_TRUE(got);
  EXPECT_EQ(got.value()["state"], "scheduled");
  run_for(200);
  EXPECT_EQ(service_->parked(), 3u);  // parked again once nothing holds it
  ASSERT_TRUE(service_->cancel({a, std::nullopt}));
  EXPECT_EQ(state_of(a), JobState::cancelled);
  ASSERT_TRUE(service_->set_timeout({b, std::nullopt}, 1));
  run_for(1'500);
  EXPECT_EQ(state_of(b), JobState::timed_out);
  srv::Result<srv::Removal> removed = service_->remove({c, std::nullopt});
  ASSERT_TRUE(removed);
  EXPECT_FALSE(backend_->get(c));
  EXPECT_EQ(service_->parked(), 0u);
  run_for(600'000);  // their entries come up and find nothing to run
  EXPECT_EQ(state_of(a), JobState::cancelled);
  EXPECT_EQ(backend_->states_of(a).back(), JobState::cancelled);
  EXPECT_EQ(service_->scheduled(), 0u);
}
