// The PostgreSQL schema's migrations (pg_schema.hpp, the store's internal header) on the tests'
// server: a database a version-1 daemon left, with live and finished tasks in it, migrated to the
// current version: its live tasks get their queue and priority columns from their specs. A
// version-3 database's exec outputs (one value per task) readable after version 4 (a row per
// step) moved them.
#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "legacy_outputs.hpp"
#include "pg_conn.hpp"
#include "pg_schema.hpp"
#include "pg_store.hpp"
#include "pg_test_db.hpp"

namespace pg = uasyncd::server::pg;
namespace srv = uasyncd::server;
using nlohmann::json;

TEST(PgSchema, AVersion1DatabaseIsMigratedWithItsLiveTasksQueuesAndPriorities) {
  std::string name = "s_";
  name += std::to_string(::getpid());
  pg::Connection c(uasyncd::test::pg_test_database(name));
  ASSERT_EQ(srv::migrate_pg_schema(c, 1), 0);
  c.run_script(R"sql(
INSERT INTO uasyncd_tasks(seq, spec, name, name_folded, kind, state, attempts, created_ms,
                          started_ms, finished_ms)
VALUES (1, convert_to('{"value":1,"queue":"builds","priority":4}', 'UTF8'), '', '', 'value',
        'pending', 0, 1, 0, 0),
       (2, convert_to('{"value":2}', 'UTF8'), '', '', 'value', 'scheduled', 0, 1, 0, 0),
       (3, convert_to('{"value":3,"queue":"old"}', 'UTF8'), '', '', 'value', 'done', 1, 1, 2, 3);
)sql",
               "insert");
  ASSERT_EQ(srv::migrate_pg_schema(c, srv::PgStore::kSchemaVersion), 1);
  const auto column = [&](int seq) {
    pg::Result r = c.run("SELECT queue || ' ' || priority FROM uasyncd_tasks WHERE seq = $1",
                         pg::Params().int8(seq), "read");
    return r.bytes(0, 0);
  };
  EXPECT_EQ(column(1), "builds 4");
  EXPECT_EQ(column(2), "default 0");
  EXPECT_EQ(column(3), "default 0");  // finished: no claim query reads it
  EXPECT_EQ(c.run("SELECT count(*) FROM uasyncd_settings", "count").integer(0, 0), 0);
  // Migrated once: a second start finds the current version.
  EXPECT_EQ(srv::migrate_pg_schema(c, srv::PgStore::kSchemaVersion), srv::PgStore::kSchemaVersion);
}

TEST(PgSchema, AVersion3DatabasesOutputsAreReadableAfterTheMigration) {
  std::string name = "o_";
  name += std::to_string(::getpid());
  const std::string url = uasyncd::test::pg_test_database(name);
  pg::Connection c(url);
  ASSERT_EQ(srv::migrate_pg_schema(c, 3), 0);
  // As the old writer made it: per ended step [index, pid, exit code, signal, stdout, stderr],
  // each stream [kept, tail or null, bytes], as MessagePack.
  const auto stream = [](const std::string& kept) {
    return json::array({kept, nullptr, kept.size()});
  };
  const json old_output = json::array(
      {json::array({1, 4242, 0, 0, stream("step one\n"), stream("")}),
       json::array({2, 4243, 3, 0, stream(std::string("\xff bytes", 7)), stream("oops\n")})});
  const std::vector<std::uint8_t> blob = json::to_msgpack(old_output);
  c.run(
      "INSERT INTO uasyncd_tasks(seq, spec, name, name_folded, kind, state, attempts, "
      "created_ms, started_ms, finished_ms, steps, output) VALUES (5, $1, '', '', 'sequence', "
      "'running', 1, 10, 11, 0, $2, $3), (6, $4, '', '', 'exec', 'pending', 0, 20, 0, 0, NULL, "
      "'\\x90'::bytea)",
      pg::Params()
          .bytes(R"({"sequence":[{"exec":["a"]},{"exec":["b"]},{"exec":["c"]}]})")
          .bytes(R"([["running",null,null,"",11,0],["done",null,null,"",11,12],)"
                 R"(["failed",null,"ExecError","x",12,13]])")
          .bytes(std::string(blob.begin(), blob.end()))
          .bytes(R"({"exec":["d"]})"),
      "insert");
  ASSERT_EQ(srv::migrate_pg_schema(c, srv::PgStore::kSchemaVersion), 3);
  EXPECT_EQ(c.run("SELECT count(*) FROM information_schema.columns WHERE table_name = "
                  "'uasyncd_tasks' AND column_name = 'output'",
                  "column")
                .integer(0, 0),
            0);
  const pg::Result moved = c.run("SELECT seq, step FROM uasyncd_task_outputs", "moved");
  ASSERT_EQ(moved.rows(), 1);  // the empty value of task 6 is not moved
  EXPECT_EQ(moved.integer(0, 0), 5);
  EXPECT_EQ(moved.integer(0, 1), srv::kLegacyOutputs);
  {
    std::unique_ptr<srv::PgStore> store = srv::PgStore::open(url, false);
    std::vector<srv::JobRow> live = store->load_live();
    ASSERT_EQ(live.size(), 2u);
    ASSERT_TRUE(test_support::job_with_legacy_outputs(live[0]));
    std::string why;
    std::shared_ptr<srv::Job> empty = srv::job_of(live[1], why);
    ASSERT_TRUE(empty) << why;
    EXPECT_FALSE(empty->step(0).exec());
  }
  // A task's outputs go with it, whichever statement deletes it.
  c.run("DELETE FROM uasyncd_tasks WHERE seq = 5", "delete");
  EXPECT_EQ(c.run("SELECT count(*) FROM uasyncd_task_outputs", "count").integer(0, 0), 0);
}
