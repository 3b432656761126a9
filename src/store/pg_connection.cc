#include "store/pg_connection.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace keycache {
namespace {

// How much longer than the server-side bound the client waits for an answer: the server's
// statement_timeout or lock_timeout normally ends a slow statement first, with a clean error
// and the session intact; the client deadline is the backstop for a server that answers
// nothing at all.
constexpr std::chrono::milliseconds kClientSlack{250};

// Waits until the socket is ready for `events` or `deadline` passes (false).
bool WaitSocket(PGconn* conn, short events, PgDeadline deadline) {
  const int fd = PQsocket(conn);
  if (fd < 0) return true;  // libpq reports the failure on the next call
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - PgClock::now());
    if (left.count() <= 0) return false;
    pollfd p{.fd = fd, .events = events, .revents = 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 60'000)));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return true;  // let libpq see the failure
  }
}

// The first line of libpq's message (the rest can be hints that quote the connection string).
std::string FirstLine(const char* message) {
  std::string s = message != nullptr ? message : "";
  s = s.substr(0, s.find('\n'));
  return s.empty() ? "unknown error" : s;
}

// SQLSTATE classes that mean the session is gone (connection exceptions, the server shutting
// down or crashing): the connection must be reset before it is used again.
bool EndsSession(std::string_view state) {
  return state.starts_with("08") || state == "57P01" || state == "57P02" || state == "57P03";
}

}  // namespace

PgConnection::PgConnection(PGconn* conn, PgConnectionOptions options, Logger& log)
    : conn_(conn), options_(options), log_(log) {}

PgConnection::~PgConnection() { PQfinish(conn_); }

Result<void> PgConnection::PollConnect(PGconn* conn, bool reset, PgDeadline deadline, Logger& log) {
  // As libpq documents: behave as if the last poll had returned PGRES_POLLING_WRITING.
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  for (;;) {
    if (st == PGRES_POLLING_OK) break;
    if (st == PGRES_POLLING_FAILED) {
      log.Warn("store_pg_connect_failed", {{"error", FirstLine(PQerrorMessage(conn))}});
      return make_error_code(Errc::kDatabase);
    }
    if (!WaitSocket(conn, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline)) {
      log.Warn("store_pg_connect_timeout", {});
      return make_error_code(Errc::kTimeout);
    }
    st = reset ? PQresetPoll(conn) : PQconnectPoll(conn);
  }
  if (PQsetnonblocking(conn, 1) != 0) {
    log.Warn("store_pg_connect_failed", {{"error", FirstLine(PQerrorMessage(conn))}});
    return make_error_code(Errc::kDatabase);
  }
  return {};
}

Result<std::unique_ptr<PgConnection>> PgConnection::Connect(const std::string& url,
                                                            PgConnectionOptions options,
                                                            PgDeadline deadline, Logger& log) {
  const std::string ms = std::to_string(options.timeout.count());
  // libpq's connect_timeout counts whole seconds (at least 2); the deadline below is the real
  // bound, this one only stops libpq from trying one host for longer.
  const std::string connect_s =
      std::to_string(std::max<std::int64_t>(2, (options.timeout.count() + 999) / 1000));
  const std::string server_options =
      "-c statement_timeout=" + ms + " -c lock_timeout=" + ms +
      " -c idle_in_transaction_session_timeout=" + std::to_string(options.timeout.count() * 2);
  // `dbname` first and expanded: the URI's parameters apply, then the ones after it override.
  const char* keys[] = {"dbname",           "connect_timeout",  "options",
                        "tcp_user_timeout", "application_name", nullptr};
  const char* values[] = {url.c_str(),
                          connect_s.c_str(),
                          server_options.c_str(),
                          ms.c_str(),
                          options.application_name.c_str(),
                          nullptr};
  PGconn* conn = PQconnectStartParams(keys, values, /*expand_dbname=*/1);
  if (conn == nullptr) return make_error_code(Errc::kDatabase);  // out of memory
  std::unique_ptr<PgConnection> c(new PgConnection(conn, options, log));
  // libpq prints notices ("relation ... already exists, skipping") to stderr unless told.
  PQsetNoticeProcessor(
      conn,
      [](void* arg, const char* message) {
        static_cast<Logger*>(arg)->Debug("store_pg_notice", {{"pg", FirstLine(message)}});
      },
      &log);
  if (PQstatus(conn) == CONNECTION_BAD) {
    log.Warn("store_pg_connect_failed", {{"error", FirstLine(PQerrorMessage(conn))}});
    return make_error_code(Errc::kDatabase);
  }
  if (auto r = PollConnect(conn, false, deadline, log); !r) return r.error();
  return c;
}

Result<void> PgConnection::Prepare(std::span<const PgStatementDef> statements,
                                   PgDeadline deadline) {
  statements_ = statements;
  for (const PgStatementDef& s : statements) {
    if (PQsendPrepare(conn_, s.name, s.sql.c_str(), 0, nullptr) == 0) return Lost("prepare");
    Result<PgResult> r = Finish("prepare", deadline);
    if (!r) return r.error();
  }
  return {};
}

bool PgConnection::broken() const { return abandoned_ || PQstatus(conn_) != CONNECTION_OK; }

void PgConnection::Poll() {
  if (broken()) return;
  // Reads while the socket has something, without waiting: the server's goodbye (an error
  // libpq hands to the notice processor), then the end of file, which libpq only sees on a read
  // of its own and which marks the connection bad. A few rounds suffice: an idle session
  // receives nothing else.
  for (int round = 0; round < 4; ++round) {
    pollfd p{.fd = PQsocket(conn_), .events = POLLIN, .revents = 0};
    if (p.fd < 0 || ::poll(&p, 1, 0) <= 0) break;
    if (PQconsumeInput(conn_) == 0) {
      log_.Info("store_pg_connection_closed", {{"error", FirstLine(PQerrorMessage(conn_))}});
      break;
    }
  }
  // Whatever arrived unasked (the server's goodbye) is not the answer to the next statement.
  while (PQisBusy(conn_) == 0) {
    PgResult stale(PQgetResult(conn_));
    if (!stale) break;
  }
}

Result<void> PgConnection::Reset(PgDeadline deadline) {
  abandoned_ = false;
  if (PQresetStart(conn_) == 0) {
    log_.Warn("store_pg_reset_failed", {{"error", FirstLine(PQerrorMessage(conn_))}});
    return make_error_code(Errc::kDatabase);
  }
  if (auto r = PollConnect(conn_, true, deadline, log_); !r) return r;
  log_.Info("store_pg_reconnected", {});
  // A session without its statements is no use: reset it again next time.
  if (auto r = Prepare(statements_, deadline); !r) {
    abandoned_ = true;
    return r;
  }
  return {};
}

bool PgConnection::Receive(std::vector<PgNotification>& out, PgDeadline deadline, int wake_fd) {
  if (broken()) return false;
  auto take = [&] {
    while (PGnotify* n = PQnotifies(conn_)) {
      out.push_back(PgNotification{n->relname, n->extra, n->be_pid});
      PQfreemem(n);
    }
  };
  // Notifications read along with a statement's answer are already here: no wait for them.
  const std::size_t before = out.size();
  take();
  if (out.size() > before) deadline = PgClock::now();
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - PgClock::now());
  pollfd p[2] = {{.fd = PQsocket(conn_), .events = POLLIN, .revents = 0},
                 {.fd = wake_fd, .events = POLLIN, .revents = 0}};
  if (p[0].fd < 0) return false;
  const int n = ::poll(p, wake_fd >= 0 ? 2 : 1,
                       static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 60'000)));
  if (n > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
    if (PQconsumeInput(conn_) == 0) {
      abandoned_ = true;
      log_.Warn("store_pg_connection_lost",
                {{"op", "listen"}, {"error", FirstLine(PQerrorMessage(conn_))}});
    }
  }
  // Results nobody asked for (the server's goodbye) are not the answer to a later statement.
  while (!abandoned_ && PQisBusy(conn_) == 0) {
    PgResult stale(PQgetResult(conn_));
    if (!stale) break;
  }
  take();
  return !broken();
}

int PgConnection::backend_pid() const { return broken() ? 0 : PQbackendPID(conn_); }

Result<PgResult> PgConnection::Exec(const char* name, const PgParams& params, std::string_view op,
                                    PgDeadline deadline) {
  const std::vector<const char*> values = params.Values();
  const std::vector<int> lengths = params.Lengths();
  if (PQsendQueryPrepared(conn_, name, params.size(), values.data(), lengths.data(),
                          params.Formats(), /*resultFormat=*/0) == 0) {
    return Lost(op);
  }
  return Finish(op, deadline);
}

Result<PgResult> PgConnection::Query(const char* sql, std::string_view op, PgDeadline deadline) {
  if (PQsendQuery(conn_, sql) == 0) return Lost(op);
  return Finish(op, deadline);
}

Result<PgResult> PgConnection::Finish(std::string_view op, PgDeadline deadline) {
  deadline += kClientSlack;
  last_sqlstate_.clear();
  for (;;) {  // a non-blocking connection may not have sent everything yet
    const int flushed = PQflush(conn_);
    if (flushed == 0) break;
    if (flushed < 0) return Lost(op);
    if (!WaitSocket(conn_, POLLIN | POLLOUT, deadline)) return Abandon(op);
    if (PQconsumeInput(conn_) == 0) return Lost(op);
  }
  PgResult ok;
  PgResult error;
  for (;;) {
    while (PQisBusy(conn_) != 0) {
      if (!WaitSocket(conn_, POLLIN, deadline)) return Abandon(op);
      if (PQconsumeInput(conn_) == 0) return Lost(op);
    }
    PgResult r(PQgetResult(conn_));
    if (!r) break;  // the query is complete
    const ExecStatusType status = PQresultStatus(r.get());
    if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
      if (!ok) ok = std::move(r);  // of several statements (a migration), keep the first
    } else if (!error) {
      error = std::move(r);
    }
  }
  if (error) return Failed(error.get(), op);
  if (!ok) return Lost(op);
  return ok;
}

boost::system::error_code PgConnection::Lost(std::string_view op) {
  abandoned_ = true;
  log_.Warn("store_pg_connection_lost", {{"op", op}, {"error", FirstLine(PQerrorMessage(conn_))}});
  return make_error_code(Errc::kDatabase);
}

boost::system::error_code PgConnection::Abandon(std::string_view op) {
  // The answer may still arrive: the session is unusable until Reset().
  abandoned_ = true;
  log_.Warn("store_pg_timeout",
            {{"op", op}, {"bound_ms", std::to_string(options_.timeout.count())}});
  return make_error_code(Errc::kTimeout);
}

boost::system::error_code PgConnection::Failed(const PGresult* result, std::string_view op) {
  const char* state_field = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const std::string state = state_field != nullptr ? state_field : "";
  last_sqlstate_ = state;
  const std::string message = FirstLine(PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY));
  if (state == "23505") {  // unique_violation
    log_.Debug("store_conflict", {{"op", op}, {"pg", message}});
    return make_error_code(Errc::kConflict);
  }
  if (EndsSession(state) || state.empty()) abandoned_ = true;
  // query_canceled (statement_timeout) and lock_not_available (lock_timeout).
  const bool timed_out = state == "57014" || state == "55P03";
  log_.Warn(timed_out ? "store_pg_timeout" : "store_pg_error",
            {{"op", op}, {"sqlstate", state}, {"pg", message}});
  return make_error_code(timed_out ? Errc::kTimeout : Errc::kDatabase);
}

}  // namespace keycache
