// Periodic schedules in the service, on the virtual clock (the schedules' wall clock moves with
// it, from a fixed date): fire times across days and a daylight-saving change, each run an
// ordinary task that names its schedule, the overlap policies (skip, allow, queue), pause and
// resume with each catch-up policy, and restarts that never fire an occurrence twice.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "service_fixture.hpp"
#include "uasyncd/service/periodic_schedules.hpp"
#include "uasyncd/service/schedule_definition.hpp"

using nlohmann::json;
using srv::JobState;

namespace {

// 2026-03-28T12:00:00Z: the day before Europe/Berlin's spring change.
constexpr std::int64_t kBaseMs = 1'774'699'200'000;
constexpr std::int64_t kSecond = 1000;
constexpr std::int64_t kDay = 86'400 * kSecond;

class Periodic : public Service {
 protected:
  void TearDown() override {
    schedules_.reset();
    Service::TearDown();
  }
  // The service and its schedules, as the daemon starts them (restored from the backend).
  void start_all(srv::ServiceOptions options = {}) {
    start(std::move(options));
    service_->restore();
    srv::ScheduleOptions o;
    o.now_ms = [this] { return now(); };
    schedules_ = std::make_unique<srv::PeriodicSchedules>(o, *service_, *backend_);
    schedules_->restore();
  }
  // A daemon that stops (kill -9: nothing more is written) and one that starts `down_ms` later.
  void restart(std::int64_t down_ms) {
    schedules_.reset();
    service_.reset();
    offset_ms_ += down_ms;
    start_all();
  }
  std::int64_t now() { return kBaseMs + elapsed_ms() + offset_ms_; }

  json add(const json& body) {
    srv::ParsedSchedule p = srv::parse_schedule_request(body, now());
    EXPECT_TRUE(p) << p.message;
    if (!p) return json();
    srv::Result<srv::ScheduleView> v = schedules_->add(std::move(*p.definition));
    EXPECT_TRUE(v) << (v ? "" : v.error().message);
    return v ? v.value().record : json();
  }
  json record(const std::string& name) {
    srv::Result<srv::ScheduleView> v = schedules_->get(name);
    EXPECT_TRUE(v);
    return v ? v.value().record : json();
  }
  // The tasks made for `name`, oldest first: their stored rows.
  std::vector<srv::JobRow> runs(const std::string& name) {
    std::vector<srv::JobRow> out;
    for (const auto& w : backend_->writes) {
      if (w.op != "insert") continue;
      std::optional<srv::JobRow> row = backend_->get(w.id);
      if (row && json::parse(row->spec).value("schedule", "") == name) out.push_back(*row);
    }
    return out;
  }

  std::unique_ptr<srv::PeriodicSchedules> schedules_;
  std::int64_t offset_ms_ = 0;
};

double seconds(std::int64_t ms) {
  return static_cast<double>(ms) / 1000.0;
}

}  // namespace

TEST_F(Periodic, AnIntervalFiresAtItsTimesAndEachRunIsATaskNamingItsSchedule) {
  start_all();
  const json added = add({{"name", "tick"}, {"every", 10}, {"spec", {{"value", 1}}}});
  ASSERT_EQ(added["next_fires"].size(), 5u);
  EXPECT_DOUBLE_EQ(added["next_fires"][0].get<double>(), seconds(kBaseMs + 10 * kSecond));
  EXPECT_DOUBLE_EQ(added["next_fires"][4].get<double>(), seconds(kBaseMs + 50 * kSecond));
  run_for(9'999);
  EXPECT_TRUE(runs("tick").empty());
  run_for(25'001);  // 35 s: fires at 10, 20 and 30
  const std::vector<srv::JobRow> made = runs("tick");
  ASSERT_EQ(made.size(), 3u);
  for (const srv::JobRow& row : made) {
    EXPECT_EQ(row.state, JobState::done);
    EXPECT_EQ(json::parse(row.spec), (json{{"value", 1}, {"schedule", "tick"}}));
  }
  const json r = record("tick");
  EXPECT_EQ(r["runs"], 3);
  EXPECT_EQ(r["skipped"], 0);
  EXPECT_DOUBLE_EQ(r["last_fire"].get<double>(), seconds(kBaseMs + 30 * kSecond));
  EXPECT_EQ(r["last_run"]["id"], "t" + std::to_string(made.back().id));
  EXPECT_DOUBLE_EQ(r["next_fires"][0].get<double>(), seconds(kBaseMs + 40 * kSecond));
}

TEST_F(Periodic, ACronScheduleFiresInItsTimeZoneAcrossTheSpringChange) {
  start_all();
  // 02:30 does not exist in Berlin on 2026-03-29: the fixed-time schedule fires at 03:00 CEST.
  const json added = add({{"name", "nightly"},
                          {"cron", "30 2 * * *"},
                          {"timezone", "Europe/Berlin"},
                          {"spec", {{"value", 1}}}});
  const std::vector<double> expected{1'774'746'000.0, 1'774'830'600.0, 1'774'917'000.0};
  for (std::size_t i = 0; i < expected.size(); ++i)
    EXPECT_DOUBLE_EQ(added["next_fires"][i].get<double>(), expected[i]) << i;
  run_for(3 * kDay);
  EXPECT_EQ(runs("nightly").size(), 3u);
  const json r = record("nightly");
  EXPECT_EQ(r["runs"], 3);
  EXPECT_DOUBLE_EQ(r["last_fire"].get<double>(), expected.back());
}

TEST_F(Periodic, OverlapSkipMakesNoRunWhileTheLastOneIsGoing) {
  start_all();
  add({{"name", "slow"}, {"every", 1}, {"spec", {{"sleep", 2.5}}}});
  run_for(7'500);  // runs at 1 (till 3.5), 4 (till 6.5), 7; 2, 3, 5 and 6 skipped
  EXPECT_EQ(runs("slow").size(), 3u);
  const json r = record("slow");
  EXPECT_EQ(r["runs"], 3);
  EXPECT_EQ(r["skipped"], 4);
}

TEST_F(Periodic, OverlapAllowRunsEveryFire) {
  start_all();
  add({{"name", "slow"}, {"every", 1}, {"overlap", "allow"}, {"spec", {{"sleep", 2.5}}}});
  run_for(7'500);
  EXPECT_EQ(runs("slow").size(), 7u);
  EXPECT_EQ(record("slow")["skipped"], 0);
}

TEST_F(Periodic, OverlapQueueRunsOneWaitingFireWhenTheLastRunEnds) {
  start_all();
  add({{"name", "slow"}, {"every", 1}, {"overlap", "queue"}, {"spec", {{"sleep", 2.2}}}});
  // A runs 1-3.2; fires 2 and 3 wait (2 dropped for 3); B runs 3.2-5.4; C 5.4-7.6; fire 7 waits.
  run_for(7'500);
  const std::vector<srv::JobRow> made = runs("slow");
  ASSERT_EQ(made.size(), 3u);
  for (std::size_t i = 1; i < made.size(); ++i) {
    EXPECT_GE(made[i].started_ms, made[i - 1].finished_ms) << "runs overlapped";
  }
  const json r = record("slow");
  EXPECT_EQ(r["runs"], 3);
  EXPECT_EQ(r["skipped"], 3);
  EXPECT_DOUBLE_EQ(r["waiting_fire"].get<double>(), seconds(kBaseMs + 7 * kSecond));
}

TEST_F(Periodic, APausedScheduleDoesNotFireAndResumingWithCatchUpNoneRunsNothingAtOnce) {
  start_all();
  add({{"name", "tick"}, {"every", 10}, {"spec", {{"value", 1}}}});
  ASSERT_TRUE(schedules_->set_paused("tick", true));
  EXPECT_TRUE(record("tick")["next_fires"].empty());
  run_for(35'000);
  EXPECT_TRUE(runs("tick").empty());
  ASSERT_TRUE(schedules_->set_paused("tick", false));
  run_for(1);
  EXPECT_TRUE(runs("tick").empty());
  EXPECT_EQ(record("tick")["skipped"], 3);
  run_for(5'000);  // the next time, 40 s
  EXPECT_EQ(runs("tick").size(), 1u);
}

TEST_F(Periodic, ResumingWithCatchUpOneRunsOnceAtOnceForAllItMissed) {
  start_all();
  add({{"name", "tick"}, {"every", 10}, {"catch_up", "one"}, {"spec", {{"value", 1}}}});
  ASSERT_TRUE(schedules_->set_paused("tick", true));
  run_for(35'000);
  ASSERT_TRUE(schedules_->set_paused("tick", false));
  run_for(1);
  EXPECT_EQ(runs("tick").size(), 1u);
  const json r = record("tick");
  EXPECT_DOUBLE_EQ(r["last_fire"].get<double>(), seconds(kBaseMs + 30 * kSecond));
  EXPECT_EQ(r["skipped"], 2);
}

TEST_F(Periodic, ARestartNeverFiresAnOccurrenceTwiceAndCatchesUpOnce) {
  start_all();
  add({{"name", "tick"}, {"every", 10}, {"catch_up", "one"}, {"spec", {{"value", 1}}}});
  run_for(15'000);  // fired at 10
  ASSERT_EQ(runs("tick").size(), 1u);
  restart(0);  // up again at once: 10 was fired, 20 is not due
  run_for(1);
  EXPECT_EQ(runs("tick").size(), 1u);
  run_for(10'000);  // 20
  EXPECT_EQ(runs("tick").size(), 2u);
  restart(32'000);  // down from 25 to 57: 30, 40 and 50 missed, one run for them at once
  run_for(1);
  EXPECT_EQ(runs("tick").size(), 3u);
  json r = record("tick");
  EXPECT_DOUBLE_EQ(r["last_fire"].get<double>(), seconds(kBaseMs + 50 * kSecond));
  EXPECT_EQ(r["runs"], 3);
  EXPECT_EQ(r["skipped"], 2);
  restart(0);  // at 57 again: nothing is due, nothing fires twice
  run_for(1);
  EXPECT_EQ(runs("tick").size(), 3u);
  run_for(3'500);  // 60
  EXPECT_EQ(runs("tick").size(), 4u);
}

TEST_F(Periodic, TriggerRunsNowOutsideItsTimesEvenWhenPaused) {
  start_all();
  add({{"name", "tick"}, {"every", 3600}, {"paused", true}, {"spec", {{"value", 5}}}});
  srv::Result<json> task = schedules_->trigger("tick");
  ASSERT_TRUE(task);
  EXPECT_EQ(task.value()["schedule"], "tick");
  run_for(10);
  EXPECT_EQ(runs("tick").size(), 1u);
  EXPECT_EQ(record("tick")["last_run"]["id"], task.value()["id"]);
  EXPECT_EQ(record("tick")["last_fire"], nullptr);  // a trigger is not one of its times
}

TEST_F(Periodic, ANameIsTakenOnceAndDeletingKeepsTheRuns) {
  start_all();
  add({{"name", "tick"}, {"every", 1}, {"spec", {{"value", 1}}}});
  srv::ParsedSchedule again = srv::parse_schedule_request(
      {{"name", "tick"}, {"every", 5}, {"spec", {{"value", 1}}}}, now());
  ASSERT_TRUE(again);
  EXPECT_TRUE(schedules_->add(std::move(*again.definition)).is(srv::JobErrorCode::exists));
  run_for(2'500);
  ASSERT_TRUE(schedules_->remove("tick"));
  EXPECT_TRUE(schedules_->get("tick").is(srv::JobErrorCode::not_found));
  run_for(5'000);
  EXPECT_EQ(runs("tick").size(), 2u);  // 1 and 2; none after the delete
  restart(0);
  EXPECT_EQ(schedules_->size(), 0u);
}

TEST_F(Periodic, ExecStepsNeedAllowExec) {
  start_all();
  srv::ParsedSchedule p = srv::parse_schedule_request(
      {{"name", "x"}, {"every", 1}, {"spec", {{"exec", {"true"}}}}}, now());
  ASSERT_TRUE(p);
  EXPECT_TRUE(schedules_->add(std::move(*p.definition)).is(srv::JobErrorCode::forbidden));
}

TEST(ScheduleDefinition, RefusalsNameTheField) {
  const auto message = [](const json& body) {
    srv::ParsedSchedule p = srv::parse_schedule_request(body, kBaseMs);
    EXPECT_FALSE(p) << body.dump();
    return p.message;
  };
  const json spec{{"value", 1}};
  EXPECT_EQ(message({{"every", 1}, {"spec", spec}}), "$.name: required");
  EXPECT_EQ(message({{"name", "a b"}, {"every", 1}, {"spec", spec}}),
            "$.name: 1 to 128 characters of A-Z a-z 0-9 . _ -");
  EXPECT_EQ(message({{"name", std::string(129, 'a')}, {"every", 1}, {"spec", spec}}),
            "$.name: 1 to 128 characters of A-Z a-z 0-9 . _ -");
  EXPECT_EQ(message({{"name", "n"}, {"spec", spec}}), "$.cron: required (or \"every\", seconds)");
  EXPECT_EQ(message({{"name", "n"}, {"cron", "* * * * *"}, {"every", 1}, {"spec", spec}}),
            "$.every: a schedule has a cron or an every, not both");
  EXPECT_EQ(message({{"name", "n"}, {"cron", "61 * * * *"}, {"spec", spec}}),
            "$.cron: minute field: 61 is out of range 0-59");
  EXPECT_EQ(
      message({{"name", "n"}, {"cron", "0 3 * * *"}, {"timezone", "Mars/Olympus"}, {"spec", spec}}),
      "$.timezone: unknown time zone \"Mars/Olympus\"");
  EXPECT_EQ(message({{"name", "n"}, {"every", 1}, {"timezone", "UTC"}, {"spec", spec}}),
            "$.timezone: applies to a cron schedule, not to every");
  EXPECT_EQ(message({{"name", "n"}, {"every", "1"}, {"spec", spec}}),
            "$.every: expected a number of seconds, got string");
  EXPECT_EQ(message({{"name", "n"}, {"every", 0}, {"spec", spec}}).rfind("$.every: ", 0), 0u);
  EXPECT_EQ(message({{"name", "n"}, {"every", 1}}),
            "$.spec: required (the task spec of every run)");
  EXPECT_EQ(
      message({{"name", "n"}, {"every", 1}, {"spec", {{"sleep", -1}}}}).rfind("$.spec.sleep", 0),
      0u);
  EXPECT_EQ(message({{"name", "n"}, {"every", 1}, {"spec", {{"value", 1}, {"delay", 5}}}}),
            "$.spec.delay: a schedule's run is made when it fires; it takes no delay");
  EXPECT_EQ(message({{"name", "n"}, {"every", 1}, {"spec", {{"value", 1}, {"schedule", "x"}}}}),
            "$.spec.schedule: a schedule's run is made when it fires; it takes no schedule");
  EXPECT_EQ(message({{"name", "n"}, {"every", 1}, {"spec", spec}, {"overlap", "never"}}),
            "$.overlap: expected one of \"skip\", \"allow\", \"queue\"");
  EXPECT_EQ(message({{"name", "n"}, {"every", 1}, {"spec", spec}, {"catch_up", 1}}),
            "$.catch_up: expected a string, got number");
  EXPECT_EQ(message({{"name", "n"}, {"every", 1}, {"spec", spec}, {"paused", "yes"}}),
            "$.paused: expected a boolean, got string");
  EXPECT_EQ(message({{"name", "n"}, {"every", 1}, {"spec", spec}, {"created_ms", 5}}),
            "$: unknown key (expected name, cron, timezone, every, spec, overlap, catch_up, "
            "paused)");
  EXPECT_EQ(message(json::array()), "$: expected an object, got array");
}

TEST(ScheduleDefinition, AStoredRowReadsBackAsItWasWritten) {
  srv::ParsedSchedule p = srv::parse_schedule_request({{"name", "n"},
                                                       {"cron", "*/7 * * * * *"},
                                                       {"timezone", "Europe/Berlin"},
                                                       {"spec", {{"value", 1}}},
                                                       {"overlap", "queue"},
                                                       {"catch_up", "one"}},
                                                      kBaseMs);
  ASSERT_TRUE(p) << p.message;
  p.definition->last_run_id = 12;
  p.definition->runs = 3;
  p.definition->skipped = 4;
  const srv::SettingRow row = srv::schedule_row(*p.definition, kBaseMs + 5);
  EXPECT_EQ(row.fired_ms, kBaseMs + 5);
  srv::ParsedSchedule back = srv::schedule_of_row(row);
  ASSERT_TRUE(back) << back.message;
  EXPECT_EQ(srv::schedule_row(*back.definition, kBaseMs + 5).body, row.body);
  srv::SettingRow tampered = row;
  tampered.name = "other";
  EXPECT_FALSE(srv::schedule_of_row(tampered));
  tampered = row;
  tampered.body = "{";
  EXPECT_FALSE(srv::schedule_of_row(tampered));
}

TEST_F(Periodic, NothingFiresOnceTheDaemonStops) {
  start_all();
  add({{"name", "tick"}, {"every", 1}, {"overlap", "queue"}, {"spec", {{"sleep", 1.5}}}});
  run_for(2'500);  // a run from 1 s, one fire waiting for it
  ASSERT_EQ(runs("tick").size(), 1u);
  schedules_->stop_firing();
  run_for(10'000);
  EXPECT_EQ(runs("tick").size(), 1u);
  EXPECT_EQ(record("tick")["paused"], false);  // stored as it was, for the next daemon
}
