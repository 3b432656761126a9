#include "support/pg_session.h"

#include <libpq-fe.h>

namespace keycache::testing {

PgSession::PgSession(const std::string& url) : conn_(PQconnectdb(url.c_str())) {
  EXPECT_EQ(PQstatus(conn_), CONNECTION_OK) << PQerrorMessage(conn_);
}

PgSession::~PgSession() { PQfinish(conn_); }

::testing::AssertionResult PgSession::Exec(const std::string& sql) {
  PGresult* r = PQexec(conn_, sql.c_str());
  const ExecStatusType status = PQresultStatus(r);
  const std::string error = PQresultErrorMessage(r);
  PQclear(r);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << sql << ": " << error;
}

std::vector<std::string> PgSession::Column(const std::string& sql) {
  std::vector<std::string> out;
  PGresult* r = PQexec(conn_, sql.c_str());
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    out.push_back("<error: " + std::string(PQresultErrorMessage(r)) + ">");
  } else {
    for (int i = 0; i < PQntuples(r); ++i) {
      out.push_back(PQgetisnull(r, i, 0) ? "NULL" : PQgetvalue(r, i, 0));
    }
  }
  PQclear(r);
  return out;
}

std::string PgSession::Text(const std::string& sql) {
  std::vector<std::string> rows = Column(sql);
  return rows.empty() ? "<no row>" : rows.front();
}

}  // namespace keycache::testing
