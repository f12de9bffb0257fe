// The PostgreSQL connection's pipeline (pg::Connection::run_together, the store's internal
// header) on the tests' server: statements sent together commit together or not at all, and a
// failed pipeline leaves a connection the next statement can use.
#include <gtest/gtest.h>

#include <unistd.h>

#include <string>
#include <vector>

#include "pg_conn.hpp"
#include "pg_test_db.hpp"
#include "uasyncd/store/store_error.hpp"

namespace pg = uasyncd::server::pg;

namespace {

std::string fresh_database(const char* what) {
  std::string name = "c_";
  name += std::to_string(::getpid());
  name += '_';
  name += what;
  return uasyncd::test::pg_test_database(name);
}

std::int64_t rows_in_t(pg::Connection& c) {
  return c.run("SELECT count(*) FROM t", "count").integer(0, 0);
}

}  // namespace

TEST(PgConnection, AStatementLibpqCannotSendRollsBackTheOnesBeforeItAndTheNextUseWorks) {
  pg::Connection c(fresh_database("unsent"));
  c.run_script("CREATE TABLE t (x bigint)", "create");
  std::vector<pg::Statement> statements;
  statements.push_back({"INSERT INTO t VALUES ($1)", pg::Params().int8(1)});
  // libpq refuses more than 65,535 parameters before sending anything of the statement; the
  // insert before it is already queued.
  pg::Params too_many;
  for (int i = 0; i < 70'000; ++i)
    too_many.int8(i);
  statements.push_back({"SELECT 1", std::move(too_many)});
  EXPECT_THROW(c.run_together(statements, "write"), uasyncd::server::StoreError);
  // Given up: neither left in pipeline mode (where every statement would fail) nor synced (which
  // would commit the insert without the statement after it).
  EXPECT_FALSE(c.ok());
  ASSERT_TRUE(c.reconnect());
  EXPECT_EQ(rows_in_t(c), 0);
  // And a pipeline after that works, once.
  statements.pop_back();
  ASSERT_EQ(c.run_together(statements, "write").size(), 1u);
  EXPECT_EQ(rows_in_t(c), 1);
}

TEST(PgConnection, AFailedStatementRollsBackTheWholePipelineAndKeepsTheConnection) {
  pg::Connection c(fresh_database("failed"));
  c.run_script("CREATE TABLE t (x bigint PRIMARY KEY)", "create");
  std::vector<pg::Statement> statements;
  statements.push_back({"INSERT INTO t VALUES ($1)", pg::Params().int8(1)});
  statements.push_back({"INSERT INTO t VALUES ($1)", pg::Params().int8(1)});  // a duplicate
  statements.push_back({"INSERT INTO t VALUES ($1)", pg::Params().int8(2)});
  EXPECT_THROW(c.run_together(statements, "write"), uasyncd::server::StoreError);
  EXPECT_TRUE(c.ok());  // the server refused: the connection is fine
  EXPECT_EQ(rows_in_t(c), 0);
}
