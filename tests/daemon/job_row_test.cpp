// The store's row decoder against damaged rows (found by tests/fuzz/job_row_fuzzer): a number
// that is not an integer in range where the writer puts one refuses the row, with a reason,
// rather than converting out of range (undefined behaviour) into a job that never ran so.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "job_factory.hpp"
#include "uasyncd/store/job_row.hpp"

namespace srv = uasyncd::server;
using nlohmann::json;

namespace {

srv::JobRow exec_row() {
  srv::JobRow row;
  row.id = 7;
  row.spec = R"({"exec": ["sh", "-c", "echo hi"]})";
  row.state = srv::JobState::done;
  row.attempts = 1;
  row.result = json(0).dump();  // not = "0": g++ 12 -O3 warns falsely (-Wrestrict, PR 105329)
  row.steps = R"([["done", 0, null, "", 1, 2]])";
  return row;
}

std::string msgpack(const json& j) {
  const std::vector<std::uint8_t> bytes = json::to_msgpack(j);
  return std::string(bytes.begin(), bytes.end());
}

json output(const json& index, const json& pid, const json& code, const json& signal,
            const json& bytes) {
  return json::array({json::array({index, pid, code, signal, json::array({"hi\n", nullptr, bytes}),
                                   json::array({"", nullptr, 0})})});
}

// The reason a row is refused; empty (and a test failure) if it was rebuilt.
std::string refusal(const srv::JobRow& row) {
  std::string why;
  EXPECT_EQ(srv::job_of(row, why), nullptr) << row.steps;
  EXPECT_FALSE(why.empty());
  return why;
}

}  // namespace

TEST(JobRow, AWellFormedRowIsRebuilt) {
  srv::JobRow row = exec_row();
  row.outputs = {{srv::kLegacyOutputs, msgpack(output(0, 1234, 0, 0, 3))}};
  std::string why;
  const auto job = srv::job_of(row, why);
  ASSERT_NE(job, nullptr) << why;
  ASSERT_NE(job->steps()[0].exec(), nullptr);
  EXPECT_EQ(job->steps()[0].exec()->pid, 1234);
  EXPECT_EQ(job->steps()[0].started_ms(), 1);
}

// A step's own output row (written since outputs have a row per step) wins over the legacy body
// a migration moved (every step's output in one): it is newer.
TEST(JobRow, AStepsOwnOutputWinsOverALegacyBody) {
  srv::JobRow row = exec_row();
  const json own =
      json::array({99, 0, 0, json::array({"new\n", nullptr, 4}), json::array({"", nullptr, 0})});
  row.outputs = {{srv::kLegacyOutputs, msgpack(output(0, 1234, 0, 0, 3))}, {0, msgpack(own)}};
  std::string why;
  const auto job = srv::job_of(row, why);
  ASSERT_NE(job, nullptr) << why;
  ASSERT_NE(job->steps()[0].exec(), nullptr);
  EXPECT_EQ(job->steps()[0].exec()->pid, 99);
  EXPECT_EQ(job->steps()[0].exec()->out.kept(), "new\n");
  EXPECT_TRUE(job->steps()[0].exec()->stored);
}

// Each ended step's output goes into one row write only: the job remembers it is stored. A new
// run (no output yet) resets the stored outputs.
TEST(JobRow, NewOutputsAreTakenOnceEach) {
  auto job = make_job(1, {{"sequence", json::array({{{"exec", {"a"}}}, {{"exec", {"b"}}}})}});
  job->start(1000);
  job->start_step(0, 1000);
  job->start_step(1, 1000);
  srv::ExecOutput& a = job->start_exec(1);
  a.running = true;
  a.out.append("first");
  srv::JobRow row = srv::row_of(*job, false);
  EXPECT_FALSE(row.outputs_reset);
  srv::add_new_outputs(*job, row);
  EXPECT_TRUE(row.outputs.empty());  // still running
  a.running = false;
  srv::add_new_outputs(*job, row);
  ASSERT_EQ(row.outputs.size(), 1u);
  EXPECT_EQ(row.outputs[0].step, 1);
  job->start_step(2, 1001);
  job->start_exec(2).out.append("second");
  row = srv::row_of(*job, false);
  srv::add_new_outputs(*job, row);
  ASSERT_EQ(row.outputs.size(), 1u);
  EXPECT_EQ(row.outputs[0].step, 2);
  row = srv::row_of(*job, false);
  srv::add_new_outputs(*job, row);
  EXPECT_TRUE(row.outputs.empty());
  job->finish(srv::JobState::failed, json(), srv::ErrorInfo{"Exception", "x"}, 1002);
  job->requeue(0);
  EXPECT_TRUE(srv::row_of(*job, false).outputs_reset);
  EXPECT_FALSE(srv::row_of(*job, true).outputs_reset);  // an insert has nothing to reset
}

TEST(JobRow, StepTimesMustBeIntegersInRange) {
  srv::JobRow row = exec_row();
  row.steps = R"([["done", 0, null, "", 1.11111e38, 2]])";
  refusal(row);
  row.steps = R"([["done", 0, null, "", 1, 1.5]])";
  refusal(row);
  row.steps = R"([["done", 0, null, "", 1, 18446744073709551615]])";
  refusal(row);
}

TEST(JobRow, OutputNumbersMustBeIntegersInRange) {
  srv::JobRow row = exec_row();
  row.outputs = {{srv::kLegacyOutputs, msgpack(output(1e300, 1234, 0, 0, 3))}};
  refusal(row);
  row.outputs = {{srv::kLegacyOutputs, msgpack(output(0, 1e20, 0, 0, 3))}};
  refusal(row);
  row.outputs = {{srv::kLegacyOutputs, msgpack(output(0, 1234, -1e20, 0, 3))}};
  refusal(row);
  row.outputs = {{srv::kLegacyOutputs, msgpack(output(0, 1234, 0, std::int64_t{1} << 40, 3))}};
  refusal(row);
  row.outputs = {{srv::kLegacyOutputs, msgpack(output(0, 1234, 0, 0, -1.0))}};
  refusal(row);
  row.outputs = {{srv::kLegacyOutputs, msgpack(output(-1, 1234, 0, 0, 3))}};
  refusal(row);
}

// Nesting no writer makes (a million levels) is refused before a recursive walk overflows the
// stack: the MessagePack reader recursed per level (found by the fuzzer), and dump() of a result
// does when the job is written back or served.
TEST(JobRow, DeepNestingIsRefused) {
  constexpr std::size_t kLevels = 1'000'000;
  srv::JobRow row = exec_row();
  row.outputs = {{srv::kLegacyOutputs,
                  std::string(kLevels, '\x91') + '\xc0'}};  // [[[...[null]...]]] as MessagePack
  EXPECT_NE(refusal(row).find("nested deeper"), std::string::npos);

  row = exec_row();
  row.result = std::string(kLevels, '[') + std::string(kLevels, ']');
  std::string why;
  if (const auto job = srv::job_of(row, why)) (void)srv::row_of(*job, true);
  EXPECT_NE(why.find("nested deeper"), std::string::npos) << why;
  EXPECT_TRUE(srv::summary_of(row).result.is_null());

  row = exec_row();
  row.steps = "[[\"done\", " + std::string(kLevels, '[') + std::string(kLevels, ']') +
              ", null, \"\", 1, 2]]";
  EXPECT_NE(refusal(row).find("nested deeper"), std::string::npos);
}

TEST(JobRow, NestingAsDeepAsASpecAllowsIsKept) {
  srv::JobRow row = exec_row();
  const int levels = srv::kMaxSpecJsonNesting;
  row.result = std::string(levels, '[') + std::string(levels, ']');
  std::string why;
  EXPECT_NE(srv::job_of(row, why), nullptr) << why;
}
