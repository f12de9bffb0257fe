// Spec validation: every refusal names the JSON path of the offending field.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "uasyncd/api/json_body.hpp"
#include "uasyncd/job/job_spec.hpp"

namespace api = uasyncd::api;
namespace srv = uasyncd::server;
using nlohmann::json;

namespace {

// A spec as the API reads it: the JSON body reader, then the spec parser.
struct Parsed {
  std::optional<srv::JobSpec> spec;
  api::ApiError error;
  explicit operator bool() const { return spec.has_value(); }
};

Parsed parse_doc(const json& doc) {
  srv::ParsedSpec p = srv::parse_job_spec(doc);
  if (!p) return {std::nullopt, {400, p.error.code, p.error.message}};
  return {std::move(p.spec), {}};
}

Parsed parse(const std::string& body) {
  api::ApiError error;
  std::optional<json> doc = api::parse_json_body(body, error);
  if (!doc) return {std::nullopt, error};
  return parse_doc(*doc);
}

std::string error_of(const std::string& body) {
  Parsed p = parse(body);
  EXPECT_FALSE(p) << body;
  return p.error.message;
}

json nested_sequences(int depth) {
  json step = {{"value", 1}};
  for (int i = 1; i < depth; ++i)
    step = {{"sequence", json::array({step})}};
  return step;
}

}  // namespace

TEST(SpecValidation, AcceptsTheSeedGatherExample) {
  Parsed p = parse(
      R"({"gather": [{"name": "bar", "sleep": 1e9}, {"sequence": [{"sleep": 6}, {"value": 42}]},
          {"wait_for": {"name": "foo", "sleep": 1e9}, "timeout": 7}], "return_exceptions": true})");
  ASSERT_TRUE(p) << p.error.message;
  const auto& gather = std::get<srv::GatherStep>(p.spec->root.kind);
  EXPECT_TRUE(gather.return_exceptions);
  EXPECT_EQ(p.spec->steps, 7u);
  EXPECT_EQ(std::get<srv::WaitForStep>(gather.steps[2].kind).seconds, 7);
  EXPECT_EQ(gather.steps[0].name, "bar");
}

TEST(SpecValidation, RootTimeoutIsRecorded) {
  Parsed p = parse(R"({"sleep_ms": 200, "timeout": 1.5, "name": "x"})");
  ASSERT_TRUE(p) << p.error.message;
  EXPECT_EQ(std::get<srv::SleepMsStep>(p.spec->root.kind).ms, 200);
  EXPECT_EQ(p.spec->timeout, 1.5);
}

TEST(SpecValidation, UnknownKeyNamesItsPath) {
  EXPECT_EQ(error_of(R"({"gather": [{"value": 1}, {"sleep": 1, "colour": "red"}]})"),
            "$.gather[1].colour: unknown key");
}

TEST(SpecValidation, TimeoutOnlyAtTheRootOrOnWaitFor) {
  EXPECT_EQ(error_of(R"({"sequence": [{"sleep": 1, "timeout": 2}]})"),
            "$.sequence[0].timeout: unknown key");
}

TEST(SpecValidation, WrongTypesAreRefused) {
  EXPECT_EQ(error_of(R"({"sleep": "1"})"), "$.sleep: expected a number, got string");
  EXPECT_EQ(error_of(R"({"sleep_ms": 1.5})"), "$.sleep_ms: expected an integer, got number");
  EXPECT_EQ(error_of(R"({"fail": 3})"), "$.fail: expected a string, got number");
  EXPECT_EQ(error_of(R"({"gather": {}})"), "$.gather: expected an array, got object");
  EXPECT_EQ(error_of(R"({"gather": [], "return_exceptions": 1})"),
            "$.return_exceptions: expected a boolean, got number");
  EXPECT_EQ(error_of(R"({"value": 1, "name": 7})"), "$.name: expected a string, got number");
  EXPECT_EQ(error_of(R"([1])"), "$: a step must be an object");
  EXPECT_EQ(error_of(R"({"sequence": [3]})"),
            "$.sequence[0]: a step must be an object, got number");
}

// A name is a label, at most 256 bytes, at any depth; the refusal names its path.
TEST(SpecValidation, NamesAreAtMost256Bytes) {
  const std::string longest(256, 'n');
  EXPECT_TRUE(parse_doc({{"value", 1}, {"name", longest}}));
  EXPECT_EQ(error_of(json{{"value", 1}, {"name", longest + "n"}}.dump()),
            "$.name: at most 256 bytes");
  EXPECT_EQ(
      error_of(json{{"gather", {{{"value", 1}}, {{"value", 2}, {"name", std::string(50000, 'x')}}}}}
                   .dump()),
      "$.gather[1].name: at most 256 bytes");
}

TEST(SpecValidation, NegativeAndMissingTimeouts) {
  EXPECT_EQ(
      error_of(
          R"({"gather": [{"value": 1}, {"value": 2}, {"wait_for": {"value": 1}, "timeout": -1}]})"),
      "$.gather[2].timeout: must not be negative");
  EXPECT_EQ(error_of(R"({"wait_for": {"value": 1}})"), "$.timeout: required");
  EXPECT_EQ(error_of(R"({"wait_for_ms": {"value": 1}, "timeout": -5})"),
            "$.timeout: must not be negative");
  EXPECT_EQ(error_of(R"({"value": 1, "timeout": -0.5})"), "$.timeout: must not be negative");
}

TEST(SpecValidation, NonFiniteNumbersAreRefused) {
  // JSON has no NaN or Infinity literals; an overflowing exponent is refused by the parser...
  Parsed p = parse(R"({"sleep": 1e999})");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error.code, "invalid_json");
  // ...and a document built in code may still hold one.
  EXPECT_EQ(parse_doc({{"sleep", std::numeric_limits<double>::infinity()}}).error.message,
            "$.sleep: must be finite");
  EXPECT_EQ(parse_doc({{"wait_for", {{"value", 1}}}, {"timeout", std::nan("")}}).error.message,
            "$.timeout: must be finite");
}

TEST(SpecValidation, HugeButFiniteNumbersAreAccepted) {
  Parsed p = parse(R"({"sleep": 1e300})");
  ASSERT_TRUE(p) << p.error.message;
  EXPECT_FALSE(parse(R"({"sleep_ms": 99999999999999999999})"));
}

TEST(SpecValidation, OneKindPerStep) {
  EXPECT_EQ(error_of(R"({"sleep": 1, "value": 2})"), "$.value: a step has one kind, already sleep");
  EXPECT_NE(error_of(R"({"name": "x"})").find("a step needs one of"), std::string::npos);
}

TEST(SpecValidation, DepthLimit) {
  EXPECT_TRUE(parse_doc(nested_sequences(srv::kMaxSpecDepth)));
  Parsed p = parse_doc(nested_sequences(srv::kMaxSpecDepth + 1));
  ASSERT_FALSE(p);
  EXPECT_NE(p.error.message.find("deeper than 32"), std::string::npos) << p.error.message;
  EXPECT_EQ(p.error.message.rfind("$.sequence[0].sequence[0]", 0), 0u) << p.error.message;
}

TEST(SpecValidation, NodeLimit) {
  json many = json::array();
  for (std::size_t i = 0; i + 1 < srv::kMaxSpecSteps; ++i)
    many.push_back({{"value", 0}});
  EXPECT_TRUE(parse_doc({{"gather", many}}));
  many.push_back({{"value", 0}});
  Parsed p = parse_doc({{"gather", many}});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error.message, "$.gather[9999]: more than 10000 steps");
}

TEST(SpecValidation, BodyOverOneMebibyteIs413) {
  std::string body = R"({"value": ")" + std::string(api::kMaxBodyBytes, 'x') + R"("})";
  Parsed p = parse(body);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error.status, 413);
}

TEST(SpecValidation, MalformedAndHostileJson) {
  Parsed p = parse(R"({"sleep": )");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error.code, "invalid_json");
  // Deep nesting inside a value is refused before anything walks it recursively.
  p = parse(R"({"value": )" + std::string(100000, '[') + std::string(100000, ']') + "}");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error.code, "invalid_json");
}

TEST(SpecValidation, ExecIsRecognised) {
  Parsed p = parse(R"({"exec": ["true"], "cwd": "/", "env": {"A": "b"}})");
  ASSERT_TRUE(p) << p.error.message;
  EXPECT_TRUE(p.spec->uses_exec);
  EXPECT_EQ(error_of(R"({"exec": ["x"], "env": {"A": 1}})"), "$.env.A: expected a string");
  EXPECT_EQ(error_of(R"({"exec": []})"), "$.exec: expected a non-empty array of strings");
}

namespace {

// The refusal of `spec`, checked to be a 400 invalid_spec: its message.
std::string refusal(const json& spec) {
  Parsed p = parse_doc(spec);
  EXPECT_FALSE(p) << spec.dump();
  EXPECT_EQ(p.error.status, 400) << spec.dump();
  EXPECT_EQ(p.error.code, "invalid_spec") << spec.dump();
  return p.error.message;
}

}  // namespace

TEST(SpecValidation, RetriesMustBeASmallNonNegativeInteger) {
  EXPECT_EQ(refusal({{"value", 1}, {"retries", -1}}), "$.retries: must not be negative");
  EXPECT_EQ(refusal({{"value", 1}, {"retries", 1.5}}),
            "$.retries: expected an integer, got number");
  EXPECT_EQ(refusal({{"value", 1}, {"retries", "3"}}),
            "$.retries: expected an integer, got string");
  EXPECT_EQ(refusal({{"value", 1}, {"retries", true}}),
            "$.retries: expected an integer, got boolean");
  EXPECT_EQ(refusal({{"value", 1}, {"retries", nullptr}}),
            "$.retries: expected an integer, got null");
  EXPECT_EQ(refusal({{"value", 1}, {"retries", 101}}), "$.retries: at most 100");
  EXPECT_EQ(refusal({{"value", 1}, {"retries", std::numeric_limits<double>::infinity()}}),
            "$.retries: must be finite");
  EXPECT_EQ(refusal({{"value", 1}, {"retries", std::nan("")}}), "$.retries: must be finite");
  // Beyond 64 bits the parser makes it a double, which is no integer.
  EXPECT_EQ(error_of(R"({"value": 1, "retries": 99999999999999999999})"),
            "$.retries: expected an integer, got number");
}

TEST(SpecValidation, RetryDelayMustBeABoundedNonNegativeNumber) {
  EXPECT_EQ(refusal({{"value", 1}, {"retry_delay", -0.5}}), "$.retry_delay: must not be negative");
  EXPECT_EQ(refusal({{"value", 1}, {"retry_delay", "1"}}),
            "$.retry_delay: expected a number, got string");
  EXPECT_EQ(refusal({{"value", 1}, {"retry_delay", json::array({1})}}),
            "$.retry_delay: expected a number, got array");
  EXPECT_EQ(refusal({{"value", 1}, {"retry_delay", std::numeric_limits<double>::infinity()}}),
            "$.retry_delay: must be finite");
  EXPECT_EQ(refusal({{"value", 1}, {"retry_delay", std::nan("")}}),
            "$.retry_delay: must be finite");
  EXPECT_EQ(refusal({{"value", 1}, {"retry_delay", 3600.5}}), "$.retry_delay: at most 3600");
  EXPECT_EQ(refusal({{"value", 1}, {"retry_delay", 1e300}}), "$.retry_delay: at most 3600");
}

TEST(SpecValidation, RetriesBelongToTheRootOnly) {
  EXPECT_EQ(refusal({{"sequence", json::array({{{"value", 1}, {"retries", 2}}})}}),
            "$.sequence[0].retries: unknown key");
  EXPECT_EQ(
      refusal({{"gather", json::array({{{"value", 1}}, {{"sleep", 1}, {"retry_delay", 1}}})}}),
      "$.gather[1].retry_delay: unknown key");
  EXPECT_EQ(refusal({{"wait_for", {{"value", 1}, {"retries", 1}}}, {"timeout", 1}}),
            "$.wait_for.retries: unknown key");
}

TEST(SpecValidation, ValidRetriesAreRecorded) {
  Parsed p = parse_doc({{"value", 1}});
  ASSERT_TRUE(p) << p.error.message;
  EXPECT_EQ(p.spec->retries, 0);
  EXPECT_EQ(p.spec->retry_delay, 0);
  p = parse(R"({"fail": "x", "retries": 100, "retry_delay": 3600})");
  ASSERT_TRUE(p) << p.error.message;
  EXPECT_EQ(p.spec->retries, 100);
  EXPECT_EQ(p.spec->retry_delay, 3600);
  p = parse(R"({"sequence": [{"value": 1}], "retries": 0, "retry_delay": 0.25, "name": "r"})");
  ASSERT_TRUE(p) << p.error.message;
  EXPECT_EQ(p.spec->retries, 0);
  EXPECT_EQ(p.spec->retry_delay, 0.25);
  p = parse(R"({"value": 1, "retry_delay": 2})");  // an integer is a number of seconds too
  ASSERT_TRUE(p) << p.error.message;
  EXPECT_EQ(p.spec->retry_delay, 2);
}

// An environment variable's name is what precedes the first '=' in "NAME=value": an empty name or
// one holding '=' would set a different variable than the spec says, and a NUL in a name or value
// would cut it short. Each is refused, naming the key's path.
TEST(SpecValidation, EnvNamesAndValuesMustBeWhatExecveSees) {
  EXPECT_EQ(refusal({{"exec", {"true"}}, {"env", {{"", "x"}}}}),
            "$.env: a variable name must not be empty");
  EXPECT_EQ(refusal({{"exec", {"true"}}, {"env", {{"A=B", "x"}}}}),
            "$.env.A=B: a variable name must not contain '='");
  EXPECT_EQ(refusal({{"exec", {"true"}}, {"env", {{"=", "x"}}}}),
            "$.env.=: a variable name must not contain '='");
  EXPECT_EQ(refusal({{"exec", {"true"}}, {"env", {{std::string("A\0B", 3), "x"}}}}),
            std::string("$.env.A\0B: must not contain a NUL byte", 38));
  EXPECT_EQ(refusal({{"exec", {"true"}}, {"env", {{"A", std::string("x\0y", 3)}}}}),
            "$.env.A: must not contain a NUL byte");
  EXPECT_EQ(error_of(R"({"exec": ["true"], "env": {"": "x"}})"),
            "$.env: a variable name must not be empty");
  // A value may hold '=' and may be empty.
  EXPECT_TRUE(parse_doc({{"exec", {"true"}}, {"env", {{"A", "b=c"}, {"E", ""}}}}));
}

// execve takes C strings: a NUL inside an argument would silently cut it (and the command line
// the task shows would not be the one that ran).
TEST(SpecValidation, ArgvAndCwdMustHoldNoNul) {
  EXPECT_EQ(refusal({{"exec", {"echo", std::string("a\0rm -rf", 8)}}}),
            "$.exec[1]: must not contain a NUL byte");
  EXPECT_EQ(error_of(R"({"exec": ["ec\u0000ho"]})"), "$.exec[0]: must not contain a NUL byte");
  EXPECT_EQ(error_of(R"({"sequence": [{"exec": ["true", "x\u0000"]}]})"),
            "$.sequence[0].exec[1]: must not contain a NUL byte");
  EXPECT_EQ(refusal({{"exec", {"true"}}, {"cwd", std::string("/tmp\0/x", 7)}}),
            "$.cwd: must not contain a NUL byte");
}

// JSON text is one value with optional whitespace around it; the parser stops at a raw NUL byte
// as if the input ended there, so whatever follows one must be refused explicitly.
TEST(SpecValidation, NothingButWhitespaceAfterTheValue) {
  using namespace std::string_literals;
  Parsed p = parse("{\"value\":1}\0garbage"s);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error.status, 400);
  EXPECT_EQ(p.error.code, "invalid_json");
  EXPECT_EQ(p.error.message, "$: a NUL byte at offset 11; JSON text holds none");
  EXPECT_EQ(error_of("{\"value\":1}\0"s), "$: a NUL byte at offset 11; JSON text holds none");
  EXPECT_EQ(error_of("{\"value\":1} \n\0{\"exec\":[\"sh\"]}"s),
            "$: a NUL byte at offset 13; JSON text holds none");
  EXPECT_EQ(error_of("\0{\"value\":1}"s), "$: a NUL byte at offset 0; JSON text holds none");
  EXPECT_EQ(error_of(R"({"value":1} x)"s).rfind("malformed JSON", 0), 0u);
  EXPECT_EQ(error_of(R"({"value":1}{"value":2})"s).rfind("malformed JSON", 0), 0u);
  EXPECT_TRUE(parse(" \t\r\n{\"value\":1} \t\r\n"s));
}

TEST(SpecValidation, DelayIsABoundedNonNegativeNumberOfSeconds) {
  EXPECT_EQ(refusal({{"value", 1}, {"delay", -1}}), "$.delay: must not be negative");
  EXPECT_EQ(refusal({{"value", 1}, {"delay", "10"}}), "$.delay: expected a number, got string");
  EXPECT_EQ(refusal({{"value", 1}, {"delay", nullptr}}), "$.delay: expected a number, got null");
  EXPECT_EQ(refusal({{"value", 1}, {"delay", std::numeric_limits<double>::infinity()}}),
            "$.delay: must be finite");
  EXPECT_EQ(refusal({{"value", 1}, {"delay", 315360000.5}}),
            "$.delay: at most 315360000 (10 years)");
  EXPECT_EQ(refusal({{"value", 1}, {"delay", 1e300}}), "$.delay: at most 315360000 (10 years)");
  Parsed p = parse_doc({{"value", 1}, {"delay", 2.5}});
  ASSERT_TRUE(p) << p.error.message;
  EXPECT_EQ(p.spec->delay, 2.5);
  EXPECT_FALSE(p.spec->at_ms);
  ASSERT_TRUE(parse_doc({{"value", 1}, {"delay", 315360000}}));
  ASSERT_TRUE(parse_doc({{"value", 1}, {"delay", 0}}));
}

TEST(SpecValidation, AtIsAnRfc3339TimeWithAnOffset) {
  const std::string want =
      "$.at: expected an RFC 3339 time with an offset, like 2026-12-02T06:00:00Z or "
      "2026-12-02T07:00:00+01:00";
  EXPECT_EQ(refusal({{"value", 1}, {"at", "2030-01-01T00:00:00"}}), want);  // no offset
  EXPECT_EQ(refusal({{"value", 1}, {"at", "2030-02-30T00:00:00Z"}}), want);
  EXPECT_EQ(refusal({{"value", 1}, {"at", "tomorrow"}}), want);
  EXPECT_EQ(refusal({{"value", 1}, {"at", ""}}), want);
  EXPECT_EQ(refusal({{"value", 1}, {"at", 1767225600}}), "$.at: expected a string, got number");
  EXPECT_EQ(refusal({{"value", 1}, {"at", "9999-01-01T00:00:00Z"}}),
            "$.at: at most 10 years ahead");
  EXPECT_EQ(refusal({{"value", 1}, {"at", "2030-01-01T00:00:00Z"}, {"delay", 1}}),
            "$.at: a task has a delay or an at time, not both");
  Parsed p = parse_doc({{"value", 1}, {"at", "2027-01-01T01:00:00+01:00"}});
  ASSERT_TRUE(p) << p.error.message;
  EXPECT_EQ(p.spec->at_ms, 1798761600000);  // 2027-01-01T00:00:00Z
  // In the past: accepted (the task runs at once).
  ASSERT_TRUE(parse_doc({{"value", 1}, {"at", "1999-12-31T23:59:59Z"}}));
}

TEST(SpecValidation, DelayAndAtBelongToTheRootOnly) {
  EXPECT_EQ(refusal({{"sequence", json::array({{{"value", 1}, {"delay", 2}}})}}),
            "$.sequence[0].delay: unknown key");
  EXPECT_EQ(refusal({{"wait_for", {{"value", 1}, {"at", "2030-01-01T00:00:00Z"}}}, {"timeout", 1}}),
            "$.wait_for.at: unknown key");
}

TEST(SpecValidation, PriorityIsAnIntegerFromZeroToNineAtTheRoot) {
  EXPECT_EQ(refusal({{"value", 1}, {"priority", 10}}),
            "$.priority: must be an integer from 0 to 9");
  EXPECT_EQ(refusal({{"value", 1}, {"priority", -1}}),
            "$.priority: must be an integer from 0 to 9");
  EXPECT_EQ(refusal({{"value", 1}, {"priority", 1.5}}),
            "$.priority: must be an integer from 0 to 9");
  EXPECT_EQ(refusal({{"value", 1}, {"priority", "9"}}),
            "$.priority: expected an integer from 0 to 9, got string");
  EXPECT_EQ(refusal({{"value", 1}, {"priority", nullptr}}),
            "$.priority: expected an integer from 0 to 9, got null");
  EXPECT_EQ(error_of(R"({"value": 1, "priority": 18446744073709551615})"),
            "$.priority: must be an integer from 0 to 9");
  EXPECT_EQ(refusal({{"sequence", json::array({{{"value", 1}, {"priority", 2}}})}}),
            "$.sequence[0].priority: unknown key");
  Parsed p = parse_doc({{"value", 1}});
  ASSERT_TRUE(p) << p.error.message;
  EXPECT_EQ(p.spec->priority, 0);
  p = parse(R"({"value": 1, "priority": 9})");
  ASSERT_TRUE(p) << p.error.message;
  EXPECT_EQ(p.spec->priority, 9);
}
