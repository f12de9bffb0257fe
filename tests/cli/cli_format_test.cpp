// How the client shows things to a person: text from the daemon made safe for a terminal, tables,
// the step tree, durations, and the exit codes scripts branch on.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "uasyncd/cli/exit_codes.hpp"
#include "uasyncd/cli/output.hpp"
#include "uasyncd/cli/safe_text.hpp"
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
