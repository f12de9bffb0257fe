// The job service's rules on a virtual clock, with a recording backend (a real memory backend
// whose calls are recorded): admission, --max-running FIFO, retries and their backoff, timeouts,
// retention, recovery at start, and jobs leaving RAM once written.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "job_factory.hpp"
#include "service_fixture.hpp"
#include "uasyncd/store/job_row.hpp"

using nlohmann::json;
using srv::JobState;

TEST_F(Service, ExecStepsAreRefusedUnlessAllowed) {
  start();
  srv::ParsedSpec p = srv::parse_job_spec({{"exec", {"true"}}});
  srv::Result<srv::Submitted> r = service_->submit(std::move(*p.spec), json());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, srv::JobErrorCode::forbidden);
  EXPECT_TRUE(backend_->writes.empty());  // nothing was stored
}

TEST_F(Service, ASubmitIsInsertedThenStartedThenFinishedAndLeavesRam) {
  start();
  const std::uint64_t id = submit({{"value", 42}});
  EXPECT_EQ(backend_->states_of(id), (std::vector<JobState>{JobState::pending, JobState::running}));
  run_for(1);
  EXPECT_EQ(backend_->states_of(id),
            (std::vector<JobState>{JobState::pending, JobState::running, JobState::done}));
  // Written and committed: no longer live, read back from the store.
  EXPECT_TRUE(service_->get({id, std::nullopt}).is(srv::JobErrorCode::not_live));
  EXPECT_EQ(stored(id).result, "42");
  EXPECT_EQ(backend_->count(JobState::done), 1u);
}

TEST_F(Service, MaxRunningStartsPendingJobsFirstInFirstOut) {
  srv::ServiceOptions o;
  o.max_running = 1;
  start(o);
  const std::uint64_t a = submit({{"sleep", 1}});
  const std::uint64_t b = submit({{"sleep", 1}});
  const std::uint64_t c = submit({{"sleep", 1}});
  const std::uint64_t d = submit({{"sleep", 1}});
  EXPECT_EQ(state_of(a), JobState::running);
  EXPECT_EQ(state_of(b), JobState::pending);
  ASSERT_TRUE(service_->cancel({c, std::nullopt}));
  EXPECT_EQ(state_of(c), JobState::cancelled);
  EXPECT_EQ(stored(c).attempts, 0);
  run_for(1000);
  EXPECT_EQ(state_of(a), JobState::done);
  EXPECT_EQ(state_of(b), JobState::running);
  EXPECT_EQ(state_of(d), JobState::pending);
  run_for(1000);
  EXPECT_EQ(state_of(b), JobState::done);
  EXPECT_EQ(state_of(d), JobState::running);
  EXPECT_EQ(stored(b).started_ms <= stored(d).started_ms, true);
}

TEST_F(Service, RetriesRunAgainAfterADoublingBackoff) {
  start();
  const std::uint64_t id = submit({{"fail", "boom"}, {"retries", 2}, {"retry_delay", 1}});
  run_for(1);
  // The failed run is never written as final: the row goes back to pending.
  EXPECT_EQ(state_of(id), JobState::pending);
  EXPECT_EQ(stored(id).attempts, 1);
  run_for(998);
  EXPECT_EQ(stored(id).attempts, 1);  // still in its first backoff (1 s)
  run_for(2);
  EXPECT_EQ(stored(id).attempts, 2);
  EXPECT_EQ(state_of(id), JobState::pending);
  run_for(1998);
  EXPECT_EQ(stored(id).attempts, 2);  // the second backoff is 2 s
  run_for(2);
  EXPECT_EQ(state_of(id), JobState::failed);
  EXPECT_EQ(stored(id).attempts, 3);
  EXPECT_EQ(backend_->count(JobState::failed), 1u);
  EXPECT_EQ(backend_->count(JobState::pending), 0u);
  std::vector<JobState> want{JobState::pending, JobState::running, JobState::pending,
                             JobState::running, JobState::pending, JobState::running,
                             JobState::failed};
  EXPECT_EQ(backend_->states_of(id), want);
}

TEST_F(Service, TimeoutsEndPendingAndRunningJobsTimedOut) {
  srv::ServiceOptions o;
  o.max_running = 1;
  start(o);
  const std::uint64_t running = submit({{"sleep", 100}});
  const std::uint64_t pending = submit({{"sleep", 100}});
  ASSERT_TRUE(service_->set_timeout({running, std::nullopt}, 2));
  ASSERT_TRUE(service_->set_timeout({pending, std::nullopt}, 1));
  EXPECT_TRUE(service_->set_timeout({running, 0}, 1).is(srv::JobErrorCode::invalid));
  run_for(1000);
  EXPECT_EQ(state_of(pending), JobState::timed_out);
  EXPECT_EQ(state_of(running), JobState::running);
  run_for(1001);  // the cancel it causes takes effect at the next turn
  EXPECT_EQ(state_of(running), JobState::timed_out);
  EXPECT_EQ(stored(running).error->type, "TimeoutError");
  EXPECT_TRUE(service_->set_timeout({running, std::nullopt}, 1).is(srv::JobErrorCode::not_live));
}

TEST_F(Service, RetentionOfTheBackendKeepsTheNewestFinished) {
  srv::BackendOptions keep2;
  keep2.retention.keep_finished = 2;
  backend_ = std::make_unique<RecordingBackend>(keep2);
  start();
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(submit({{"value", i}}));
    run_for(1);
  }
  EXPECT_FALSE(backend_->get(ids[0]));
  EXPECT_FALSE(backend_->get(ids[1]));
  EXPECT_TRUE(backend_->get(ids[2]));
  EXPECT_TRUE(backend_->get(ids[3]));
  EXPECT_EQ(backend_->count(JobState::done), 2u);
}

TEST_F(Service, RecoveryRequeuesOrInterruptsWhatWasLive) {
  auto pending = make_job(1, {{"value", "p"}});
  auto retried = make_job(2, {{"value", "r"}, {"retries", 1}});
  retried->start(100);
  auto lost = make_job(3, {{"sequence", json::array({{{"value", 1}}, {{"sleep", 9}}})}});
  lost->start(100);
  lost->start_step(0, 100);
  lost->start_step(1, 100);
  lost->finish_step(1, JobState::done, 1, std::nullopt, 101);
  lost->start_step(2, 101);
  for (const auto& job : {pending, retried, lost}) {
    backend_->insert(*make_job(job->id(), job->spec_json()));
    backend_->stored_live.push_back(srv::row_of(*job, true));
  }
  start();
  service_->restore();
  run_for(1);
  EXPECT_EQ(state_of(1), JobState::done);
  EXPECT_EQ(state_of(2), JobState::done);
  EXPECT_EQ(stored(2).attempts, 2);
  EXPECT_EQ(state_of(3), JobState::interrupted);
  std::string why;
  std::shared_ptr<srv::Job> back = srv::job_of(stored(3), why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(back->step(0).state(), JobState::interrupted);
  EXPECT_EQ(back->step(1).state(), JobState::done);
  EXPECT_EQ(back->step(2).state(), JobState::interrupted);
  EXPECT_EQ(back->error()->type, "Interrupted");
  // Its duration ends at the last time the store recorded (step 1's end), not at the restart:
  // the outage is not counted.
  EXPECT_EQ(back->finished_ms(), 101);
  EXPECT_EQ(back->step(2).finished_ms(), 101);
}

// The heartbeat (docs/dashboard-api.md section 3): once a second while a job runs, nothing when
// none does.
TEST_F(Service, TheHeartbeatBeatsEverySecondWhileJobsRunAndNeverWhenIdle) {
  start();
  const std::int64_t t0 = elapsed_ms();
  run_for(5000);
  EXPECT_TRUE(backend_->alive_marks.empty()) << "idle, yet marked alive";
  const std::uint64_t id = submit({{"sleep", 3.5}});
  run_for(3200);
  ASSERT_EQ(state_of(id), JobState::running);
  EXPECT_EQ(backend_->alive_marks.size(), 3u);
  run_for(1000);
  EXPECT_EQ(state_of(id), JobState::done);
  const std::size_t beats = backend_->alive_marks.size();
  EXPECT_EQ(beats, 3u);  // the one due at 4 s found nothing running
  run_for(10000);
  EXPECT_EQ(backend_->alive_marks.size(), beats) << "idle again, yet marked alive";
  // Two overlapping jobs share one heartbeat, which lasts until the later one ends.
  submit({{"sleep", 2.5}});
  run_for(1000);
  submit({{"sleep", 2.5}});
  run_for(10000);
  ASSERT_EQ(backend_->alive_marks.size(), beats + 3);
  for (std::size_t i = 1; i < backend_->alive_marks.size(); ++i) {
    const std::int64_t gap = backend_->alive_marks[i] - backend_->alive_marks[i - 1];
    EXPECT_GE(gap, 1000) << "beat " << i << " at " << backend_->alive_marks[i] - t0;
  }
}

// An interrupted job's run ends where the heartbeat last saw the daemon alive, not at the
// restart (the outage is not its duration), and never before what its own record says.
TEST(InterruptedEnd, IsTheLastHeartbeatBoundedByTheRecordAndNow) {
  auto job = make_job(1, {{"sequence", json::array({{{"value", 1}}, {{"sleep", 9}}})}});
  job->start(1000);
  job->start_step(0, 1000);
  job->start_step(1, 1000);
  job->finish_step(1, JobState::done, 1, std::nullopt, 1500);
  job->start_step(2, 1500);
  EXPECT_EQ(srv::interrupted_end_ms(*job, 4200, 9000), 4200);
  // No heartbeat stored (a file of an older daemon): the last time the job records.
  EXPECT_EQ(srv::interrupted_end_ms(*job, std::nullopt, 9000), 1500);
  // A heartbeat older than the job's own record (of an earlier run, or the job started after
  // it): the record.
  EXPECT_EQ(srv::interrupted_end_ms(*job, 1200, 9000), 1500);
  // A heartbeat in the future (the clock was set back since): now.
  EXPECT_EQ(srv::interrupted_end_ms(*job, 20000, 9000), 9000);
}

TEST_F(Service, RecoveryEndsAnInterruptedRunAtTheLastHeartbeat) {
  auto lost = make_job(3, {{"sequence", json::array({{{"value", 1}}, {{"sleep", 9}}})}});
  const std::int64_t started = srv::wall_ms() - 60'000;  // a minute ago, then the daemon died
  lost->start(started);
  lost->start_step(0, started);
  lost->start_step(1, started);
  lost->finish_step(1, JobState::done, 1, std::nullopt, started + 100);
  lost->start_step(2, started + 100);
  backend_->insert(*make_job(lost->id(), lost->spec_json()));
  backend_->stored_live.push_back(srv::row_of(*lost, true));
  backend_->stored_alive_ms = started + 2600;  // killed 2.6 s in
  start();
  const std::int64_t before = srv::wall_ms();
  service_->restore();
  const std::int64_t after = srv::wall_ms();
  run_for(1);
  ASSERT_EQ(state_of(3), JobState::interrupted);
  std::string why;
  std::shared_ptr<srv::Job> back = srv::job_of(stored(3), why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(back->finished_ms(), started + 2600);
  EXPECT_EQ(back->step(0).finished_ms(), started + 2600);
  EXPECT_EQ(back->step(2).finished_ms(), started + 2600);
  EXPECT_EQ(back->step(1).finished_ms(), started + 100);  // ended before: kept
  EXPECT_GE(back->interrupted_at_ms(), before);
  EXPECT_LE(back->interrupted_at_ms(), after);
  const json shown = srv::full_json(*back);
  EXPECT_DOUBLE_EQ(shown.at("duration").get<double>(), 2.6);
  EXPECT_DOUBLE_EQ(shown.at("interrupted_at").get<double>(),
                   static_cast<double>(back->interrupted_at_ms()) / 1000.0);
  // A job that was not interrupted has no such field.
  EXPECT_FALSE(srv::full_json(*make_job(4, {{"value", 1}})).contains("interrupted_at"));
}

TEST_F(Service, WaitersHearTheEndAndFollowersGetTheReplayThenTheEnd) {
  start();
  const std::uint64_t id = submit({{"sleep", 1}});
  json heard;
  srv::Result<srv::FinishWatch> watch = service_->watch_finish(
      {id, std::nullopt}, [&](const srv::JobBody& body) { heard = json::parse(*body); });
  ASSERT_TRUE(watch);
  EXPECT_FALSE(watch->finished);
  std::vector<std::string> ends;
  srv::OutputFollower follower{[](const srv::OutputChunk&) { return true; },
                               [&](const srv::OutputEnd& e) { ends.push_back(e.job_id); }};
  ASSERT_TRUE(service_->follow_output({id, std::nullopt}, follower));
  run_for(1000);
  EXPECT_EQ(heard.value("state", ""), "done");
  EXPECT_EQ(ends, (std::vector<std::string>{std::string("t").append(std::to_string(id))}));
  EXPECT_EQ(service_->watches(), 0u);
}

// A poll that ends takes its watch with it: 30,000 polls of a running job leave nothing behind,
// and the watches that remain when it ends share one body.
TEST_F(Service, CancelledWatchesAreGoneAndTheRestShareOneBody) {
  start();
  const std::uint64_t id = submit({{"sleep", 1}});
  for (int i = 0; i < 30000; ++i) {
    srv::Result<srv::FinishWatch> w =
        service_->watch_finish({id, std::nullopt}, [](const srv::JobBody&) { FAIL(); });
    ASSERT_TRUE(w);
    service_->cancel_watch(id, w->watch);
  }
  EXPECT_EQ(service_->watches(), 0u);
  std::vector<srv::JobBody> bodies;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(service_->watch_finish({id, std::nullopt},
                                       [&](const srv::JobBody& b) { bodies.push_back(b); }));
  }
  EXPECT_EQ(service_->watches(), 3u);
  run_for(1000);
  ASSERT_EQ(bodies.size(), 3u);
  EXPECT_EQ(bodies[0].get(), bodies[1].get());
  EXPECT_EQ(bodies[0].get(), bodies[2].get());
  EXPECT_EQ(json::parse(*bodies[0])["state"], "done");
  EXPECT_EQ(service_->watches(), 0u);
}

// A cancel in the loop turn that started the job (before its task's first turn) ended nothing:
// the job stayed running for good. A delayed task whose timeout expires as it falls due does this.
TEST_F(Service, ACancelInTheTurnAJobStartedEndsIt) {
  start();
  const std::uint64_t id = submit({{"sleep", 5}});
  ASSERT_TRUE(service_->cancel({id, std::nullopt}));
  run_for(10);
  EXPECT_EQ(state_of(id), JobState::cancelled);
  EXPECT_EQ(service_->unfinished(), 0u);
}
