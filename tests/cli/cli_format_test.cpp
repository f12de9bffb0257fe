// How the client shows things to a person: text from the daemon made safe for a terminal, tables,
// the step tree, durations, schedules and queues, and the exit codes scripts branch on.
#include <gtest/gtest.h>

#include <stdlib.h>
#include <time.h>
#include <nlohmann/json.hpp>

#include "uasyncd/cli/exit_codes.hpp"
#include "uasyncd/cli/output.hpp"
#include "uasyncd/cli/queue_format.hpp"
#include "uasyncd/cli/safe_text.hpp"
#include "uasyncd/cli/schedule_format.hpp"
#include "uasyncd/cli/step_tree.hpp"
#include "uasyncd/cli/table.hpp"
#include "uasyncd/cli/task_format.hpp"

namespace {

using namespace uasyncd::cli;
using nlohmann::json;

const Output kPlain(std::nullopt, false, Terminal{false, false, false});
const Output kColour(std::nullopt, false, Terminal{true, true, true});

TEST(SafeText, ControlCharactersAndBrokenUtf8BecomeQuestionMarks) {
  EXPECT_EQ(printable("ok"), "ok");
  EXPECT_EQ(printable("\x1b[2Jgone"), "?[2Jgone");
  EXPECT_EQ(printable("a\nb\tc\x7f"), "a?b?c?");
  EXPECT_EQ(printable("caf\xc3\xa9 ✓"), "café ✓");
  EXPECT_EQ(printable("\xc2\x9b"
                      "31m"),
            "?31m");  // C1 CSI, an escape on some terminals
  EXPECT_EQ(printable("\xff\xc3"), "??");
  EXPECT_EQ(printable("\xc0\xaf"), "??");  // an overlong '/'
}

TEST(SafeText, WidthCountsCodePointsAndTruncationEndsInAnEllipsis) {
  EXPECT_EQ(display_width("café"), 4u);
  EXPECT_EQ(truncate_to_width("abcdef", 4), "abc…");
  EXPECT_EQ(truncate_to_width("abcd", 4), "abcd");
  EXPECT_EQ(display_width(truncate_to_width("ééééé", 3)), 3u);
}

TEST(Table, PadsColumnsToTheWidestCellAndLeavesNoTrailingSpace) {
  Table table({"ID", "NAME", "STATE"});
  table.add_row({{"t10"}, {"café"}, {"done", Color::green}});
  table.add_row({{"t9"}, {""}, {""}});
  EXPECT_EQ(table.render(kPlain),
            "ID   NAME  STATE\n"
            "t10  café  done\n"
            "t9\n");
}

TEST(Table, ColoursOnlyWhenAllowedAndCellsFromTheDaemonAreSanitized) {
  Table table({"NAME", "STATE"});
  table.add_row({{"\x1b]0;pwned\x07"}, {"done", Color::green}});
  const std::string plain = table.render(kPlain);
  EXPECT_EQ(plain.find('\x1b'), std::string::npos);
  const std::string coloured = table.render(kColour);
  EXPECT_NE(coloured.find("\x1b[32mdone\x1b[0m"), std::string::npos);
  EXPECT_EQ(coloured.find("\x1b]"), std::string::npos);  // the name's escape is gone
}

TEST(TaskFormat, Durations) {
  EXPECT_EQ(format_duration(json(7.002)), "7.002s");
  EXPECT_EQ(format_duration(json(125)), "2m05s");
  EXPECT_EQ(format_duration(json(3725)), "1h02m");
  EXPECT_EQ(format_duration(json(nullptr)), "-");
  EXPECT_EQ(format_duration(json("7")), "-");
  EXPECT_EQ(format_time(json(nullptr)), "-");
  EXPECT_EQ(format_time(json(1e300)), "-");
}

TEST(TaskFormat, OutcomeShowsStateDurationAndResultOrError) {
  EXPECT_EQ(
      outcome_text({{"id", "t1"}, {"state", "done"}, {"duration", 7.002}, {"result", 42}}, kPlain),
      "t1 done in 7.002s\nresult: 42\n");
  EXPECT_EQ(outcome_text({{"id", "t2"},
                          {"state", "failed"},
                          {"duration", nullptr},
                          {"error", {{"type", "Exception"}, {"message", "b broke"}}}},
                         kPlain),
            "t2 failed\nerror: Exception: b broke\n");
  EXPECT_EQ(outcome_text(json("not an object"), kPlain), "? ?\n");
}

TEST(StepTree, DrawsChildrenWithBranchesAndShowsHowEachEnded) {
  const json steps = json::parse(R"({"id":"t1.0","kind":"gather","name":"seed","state":"done",
    "result":[null,42],"steps":[
      {"id":"t1.1","kind":"sleep","name":"bar","state":"cancelled",
       "error":{"type":"CancelledError","message":""}},
      {"id":"t1.2","kind":"sequence","name":"","state":"running","steps":[
        {"id":"t1.3","kind":"exec","name":"","state":"failed","error":null,
         "result":{"exit_code":3}},
        {"id":"t1.4","kind":"value","name":"","state":"pending"}]}]})");
  EXPECT_EQ(render_step_tree(steps, kPlain),
            "t1.0 gather seed  done  → [null,42]\n"
            "├─ t1.1 sleep bar  cancelled  CancelledError\n"
            "└─ t1.2 sequence  running\n"
            "   ├─ t1.3 exec  failed  exit 3\n"
            "   └─ t1.4 value  pending\n");
  const StepCount n = count_steps(steps);
  EXPECT_EQ(n.total, 5u);
  EXPECT_EQ(n.finished, 3u);
}

TEST(StepTree, AHostileDepthIsCut) {
  json step = {{"id", "x"}, {"kind", "sequence"}, {"state", "running"}};
  for (int i = 0; i < 200; ++i)
    step = {
        {"id", "x"}, {"kind", "sequence"}, {"state", "running"}, {"steps", json::array({step})}};
  const std::string text = render_step_tree(step, kPlain);
  EXPECT_NE(text.find("…"), std::string::npos);
  EXPECT_LT(std::count(text.begin(), text.end(), '\n'), 70);
}

// Local times read the same on every machine.
void use_utc() {
  setenv("TZ", "UTC", 1);
  tzset();
}

TEST(ScheduleFormat, WhenReadsAsTheCronAndItsZoneOrAsTheInterval) {
  EXPECT_EQ(schedule_when({{"cron", "0 3 * * *"}, {"timezone", "Europe/Berlin"}}),
            "0 3 * * * (Europe/Berlin)");
  EXPECT_EQ(schedule_when({{"cron", "@daily"}}), "@daily (UTC)");
  EXPECT_EQ(schedule_when({{"every", 3600.0}}), "every 3600s");
  EXPECT_EQ(schedule_when({{"every", 0.25}}), "every 0.25s");
  EXPECT_EQ(schedule_when({{"cron", "\x1b[2J"}, {"timezone", "UTC"}}), "?[2J (UTC)");
  EXPECT_EQ(schedule_when(json("not a record")), "?");
  EXPECT_EQ(seconds_text(86400), "86400");
  EXPECT_EQ(seconds_text(0.001), "0.001");
  EXPECT_EQ(seconds_text(1.5), "1.5");
}

TEST(ScheduleFormat, LastRunAndNextFire) {
  use_utc();
  EXPECT_EQ(schedule_next_fire({{"next_fires", {1796263200.0, 1796349600.0}}}),
            "2026-12-03 02:00:00");
  EXPECT_EQ(schedule_next_fire({{"next_fires", json::array()}}), "-");  // paused
  const Cell done = schedule_last_run({{"last_run", {{"id", "t5"}, {"state", "done"}}}});
  EXPECT_EQ(done.text, "t5 done");
  EXPECT_EQ(done.color, Color::green);
  EXPECT_EQ(schedule_last_run({{"last_run", {{"id", "t5"}, {"state", nullptr}}}}).text, "t5");
  EXPECT_EQ(schedule_last_run({{"last_run", nullptr}}).text, "-");
  EXPECT_EQ(schedule_change_line("added", {{"name", "nightly"}, {"paused", true}}),
            "added schedule nightly: paused\n");
  EXPECT_EQ(schedule_change_line("resumed", {{"name", "n"}, {"next_fires", {1796263200.0}}}),
            "resumed schedule n: next fire 2026-12-03 02:00:00\n");
}

TEST(ScheduleFormat, TheRecordOneFieldALine) {
  use_utc();
  const json record = json::parse(R"({"name": "nightly", "cron": "0 3 * * *",
    "timezone": "Europe/Berlin", "spec": {"value": 1}, "overlap": "queue", "catch_up": "one",
    "paused": false, "created": 1796228016.111, "next_fires": [1796263200.0, 1796349600.0],
    "last_fire": null, "last_run": {"id": "t2", "state": "running"}, "runs": 2, "skipped": 1,
    "waiting_fire": 1796228100.0})");
  EXPECT_EQ(schedule_record_text(record, kPlain),
            "name        nightly\n"
            "cron        0 3 * * *\n"
            "timezone    Europe/Berlin\n"
            "overlap     queue\n"
            "catch up    one\n"
            "paused      no\n"
            "created     2026-12-02 16:13:36\n"
            "next fires  2026-12-03 02:00:00\n"
            "            2026-12-04 02:00:00\n"
            "last fire   -\n"
            "last run    t2 running\n"
            "runs        2\n"
            "skipped     1\n"
            "waiting     2026-12-02 16:15:00\n"
            "spec        {\"value\":1}\n");
  const std::string every =
      schedule_record_text({{"name", "p"}, {"every", 0.5}, {"paused", true}}, kPlain);
  EXPECT_NE(every.find("every       0.5s\n"), std::string::npos) << every;
  EXPECT_NE(every.find("paused      yes\n"), std::string::npos) << every;
  EXPECT_NE(every.find("next fires  -\n"), std::string::npos) << every;
  EXPECT_EQ(every.find("timezone"), std::string::npos) << every;
}

TEST(QueueFormat, OneRowAQueueAndZeroIsNoLimit) {
  const json queues = json::parse(R"([
    {"name": "build", "max_running": 2, "paused": true, "running": 2, "pending": 7,
     "scheduled": 1, "finished_per_second": 0.5},
    {"name": "default", "max_running": 0, "paused": false, "running": 0, "pending": 0,
     "scheduled": 0, "finished_per_second": 0.03333}])");
  EXPECT_EQ(queue_table_text(queues, kPlain),
            "NAME     MAX RUNNING  PAUSED  RUNNING  PENDING  SCHEDULED  FINISHED/S\n"
            "build    2            yes     2        7        1          0.50\n"
            "default  no limit     no      0        0        0          0.03\n");
  EXPECT_EQ(queue_table_text(json::array({{{"name", "odd"}}}), kPlain),
            "NAME  MAX RUNNING  PAUSED  RUNNING  PENDING  SCHEDULED  FINISHED/S\n"
            "odd   -            no      -        -        -          -\n");
}

TEST(ExitCodes, FromTheTaskState) {
  EXPECT_EQ(exit_code_for_state("done"), 0);
  EXPECT_EQ(exit_code_for_state("failed"), 1);
  EXPECT_EQ(exit_code_for_state("interrupted"), 1);
  EXPECT_EQ(exit_code_for_state("timed_out"), 124);
  EXPECT_EQ(exit_code_for_state("cancelled"), 130);
  EXPECT_TRUE(is_final_state("interrupted"));
  EXPECT_FALSE(is_final_state("running"));
}

TEST(Output, RecordsAreATableOnATerminalAndJsonInAPipeUnlessChosen) {
  EXPECT_EQ(Output(std::nullopt, false, Terminal{true, true, true}).records(), Format::table);
  EXPECT_EQ(Output(std::nullopt, false, Terminal{false, true, true}).records(), Format::json);
  EXPECT_EQ(Output(Format::jsonl, false, Terminal{true, true, true}).records(), Format::jsonl);
  EXPECT_FALSE(Output(std::nullopt, false, Terminal{true, true, false}).color());   // NO_COLOR
  EXPECT_FALSE(Output(std::nullopt, true, Terminal{true, true, true}).progress());  // --quiet
}

}  // namespace
