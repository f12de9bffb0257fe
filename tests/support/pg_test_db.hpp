// A database of its own on the tests' PostgreSQL server (tests/support/pg-test-server.sh, which
// ctest starts once as the fixture "postgres" and names in UASYNCD_TEST_PG_SOCKET). The database
// is created when first asked for and left to the server's own deletion at the end of the run.
//
// Threads: any; one object per test.
#pragma once

#include <libpq-fe.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace uasyncd::test {

// The socket directory of the tests' server; throws (failing the test) when the test was not
// started by ctest, which sets it.
inline std::string pg_test_socket() {
  const char* dir = std::getenv("UASYNCD_TEST_PG_SOCKET");
  if (dir == nullptr || *dir == '\0') {
    throw std::runtime_error(
        "UASYNCD_TEST_PG_SOCKET is not set: run this test through ctest, or start a server with "
        "tests/support/pg-test-server.sh start DIR and set UASYNCD_TEST_PG_SOCKET=DIR");
  }
  return dir;
}

// A libpq connection string for database `name` on the tests' server.
inline std::string pg_test_url(const std::string& name) {
  return "host=" + pg_test_socket() + " user=uasyncd dbname=" + name;
}

// Runs `sql` on the server's maintenance database; throws with the server's message.
inline void pg_test_admin(const std::string& sql) {
  PGconn* c = PQconnectdb(pg_test_url("postgres").c_str());
  std::string error;
  if (PQstatus(c) != CONNECTION_OK) {
    error = PQerrorMessage(c);
  } else {
    PGresult* r = PQexec(c, sql.c_str());
    const ExecStatusType status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) error = PQresultErrorMessage(r);
    PQclear(r);
  }
  PQfinish(c);
  if (!error.empty()) throw std::runtime_error("postgres for the tests: " + error);
}

// Creates database `name` (lower-case letters, digits and _) and returns its connection string.
inline std::string pg_test_database(const std::string& name) {
  pg_test_admin("CREATE DATABASE " + name);
  return pg_test_url(name);
}

// Ends every session on database `name` but the caller's: what a server restart or a network cut
// does to a daemon's connections.
inline void pg_test_cut_connections(const std::string& name) {
  pg_test_admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + name +
                "' AND pid <> pg_backend_pid()");
}

}  // namespace uasyncd::test
