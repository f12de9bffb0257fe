// The PostgreSQL schema's migrations (pg_schema.hpp, the store's internal header) on the tests'
// server: a database a version-1 daemon left, with live and finished tasks in it, migrated to the
// current version: its live tasks get their queue and priority columns from their specs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "pg_conn.hpp"
#include "pg_schema.hpp"
#include "pg_store.hpp"
#include "pg_test_db.hpp"

namespace pg = uasyncd::server::pg;
namespace srv = uasyncd::server;

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
