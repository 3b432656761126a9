// PgConnection: one libpq connection, its prepared statements and its bounds. Every round trip
// runs on libpq's asynchronous API and waits on the socket until a deadline, so no call can hang
// on a server that stopped answering; a connection left in an unknown state (a deadline passed
// mid-query, the server went away) reports broken() and is brought back by Reset().
// Not thread-safe: PgStore lends each connection to one thread at a time.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/pg_params.h"
#include "util/error.h"
#include "util/log.h"

namespace keycache {

using PgClock = std::chrono::steady_clock;
using PgDeadline = PgClock::time_point;

struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

// A statement every connection prepares once per session.
struct PgStatementDef {
  const char* name;
  std::string sql;
};

struct PgConnectionOptions {
  // The server-side bound of each statement and of each lock wait (statement_timeout,
  // lock_timeout), and the basis of the client-side deadlines.
  std::chrono::milliseconds timeout{5000};
  // How the session shows in pg_stat_activity (operators and tests tell connections apart by it).
  std::string application_name = "keycached";
};

// A notification received on a LISTEN connection.
struct PgNotification {
  std::string channel;
  std::string payload;
  int sender_pid = 0;
};

class PgConnection {
 public:
  // Connects (bounded by `deadline`) to `url`, a postgresql:// or postgres:// URI (libpq parses
  // it; keycache's bounds override any timeouts it names). Statements are prepared later, by
  // Prepare(). Errc::kDatabase (or kTimeout) with the reason logged, never the URL: it can hold
  // a password.
  static Result<std::unique_ptr<PgConnection>> Connect(const std::string& url,
                                                       PgConnectionOptions options,
                                                       PgDeadline deadline, Logger& log);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Prepares `statements` now and again after every Reset().
  Result<void> Prepare(std::span<const PgStatementDef> statements, PgDeadline deadline);

  // Runs a prepared statement. Errors: kConflict for a unique violation, kTimeout when a
  // server-side bound or `deadline` ran out, kDatabase otherwise (logged with the SQLSTATE and
  // the primary message only: a detail line could quote a row, hash included).
  Result<PgResult> Exec(const char* name, const PgParams& params, std::string_view op,
                        PgDeadline deadline);
  // Runs SQL text without parameters (transaction control, migrations), same errors.
  Result<PgResult> Query(const char* sql, std::string_view op, PgDeadline deadline);

  // True when the session cannot be trusted: libpq lost it, or a deadline passed mid-query.
  bool broken() const;
  // Reads whatever an idle connection has received without waiting, so that a session the
  // server closed meanwhile (it restarted, or an administrator ended it) shows as broken()
  // before a statement is sent on it rather than after.
  void Poll();
  // Reconnects (PQreset) and prepares the statements again, bounded by `deadline`.
  Result<void> Reset(PgDeadline deadline);

  // For a LISTEN connection: waits until the socket is readable or `deadline` passes (or, when
  // `wake_fd` >= 0, until that descriptor is readable), reads what arrived and appends every
  // notification libpq holds to `out`. False when the connection is lost (then broken()).
  bool Receive(std::vector<PgNotification>& out, PgDeadline deadline, int wake_fd = -1);
  // The server process serving this session (0 when not connected).
  int backend_pid() const;

  std::chrono::milliseconds timeout() const { return options_.timeout; }
  // The error a statement's failed result stands for (as Exec returns it, logged alike); a
  // result that ends the session also makes the connection broken().
  boost::system::error_code Failed(const PGresult* result, std::string_view op);
  // The libpq connection, for a caller that drives it on its own event loop (PgPipeline). The
  // caller must leave it in a state Exec/Query can use, or not use them again.
  PGconn* native_handle() { return conn_; }
  // The SQLSTATE of the last statement that failed on the server ("" if none or not a server
  // error), for callers that treat one error specially (a deadlock victim can run again).
  const std::string& last_sqlstate() const { return last_sqlstate_; }

 private:
  PgConnection(PGconn* conn, PgConnectionOptions options, Logger& log);

  // Sends nothing; drives the query already sent to completion and returns its result.
  Result<PgResult> Finish(std::string_view op, PgDeadline deadline);
  // Drives PQconnectPoll / PQresetPoll until the connection is made or `deadline` passes.
  static Result<void> PollConnect(PGconn* conn, bool reset, PgDeadline deadline, Logger& log);
  boost::system::error_code Lost(std::string_view op);
  boost::system::error_code Abandon(std::string_view op);

  PGconn* conn_;
  const PgConnectionOptions options_;
  Logger& log_;
  std::span<const PgStatementDef> statements_;  // what Reset() prepares again
  bool abandoned_ = false;                      // a query may still be in flight
  std::string last_sqlstate_;
};

}  // namespace keycache
