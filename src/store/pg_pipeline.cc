#include "store/pg_pipeline.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "store/pg_params.h"
#include "store/pg_row.h"
#include "store/pg_statements.h"

namespace keycache {
namespace {

namespace asio = boost::asio;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// Beyond the server's statement_timeout (which ends a slow lookup with a clean error first),
// how long a lookup waits for a server that answers nothing at all.
constexpr std::chrono::milliseconds kClientSlack{250};
// Between connection attempts after one failed (the pool answers meanwhile).
constexpr std::chrono::seconds kRetryAfter{1};

}  // namespace

// One lookup in flight: libpq answers it with its result, then a null result (the end of that
// query), then the sync point sent after it.
struct PgPipeline::Waiter {
  explicit Waiter(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;  // cancelled when the answer is in
  std::optional<AsyncKeyReader::Answer> answer;
  std::optional<AsyncKeyReader::Answer> pending;  // the result, until the sync point comes
  int stage = 0;                                  // 0 result, 1 end of query, 2 sync point
};

PgPipeline::PgPipeline(asio::any_io_executor executor, Connect connect, Blocking blocking,
                       std::chrono::milliseconds timeout, Logger& log)
    : executor_(std::move(executor)),
      connect_(std::move(connect)),
      blocking_(std::move(blocking)),
      timeout_(timeout),
      log_(log) {}

PgPipeline::~PgPipeline() {
  *alive_ = false;  // suspended coroutines that resume later leave `this` alone
  for (const auto& w : waiters_) {
    if (!w->answer) w->answer = AsyncKeyReader::Answer(make_error_code(Errc::kUnavailable));
    w->timer.cancel();
  }
  socket_.reset();
}

void PgPipeline::Open() {
  if (connecting_ || conn_ || std::chrono::steady_clock::now() < next_connect_) return;
  connecting_ = true;
  blocking_([connect = connect_, alive = alive_, ex = executor_, this] {
    auto made = std::make_shared<Result<std::unique_ptr<PgConnection>>>(connect());
    asio::post(ex, [alive, made, this] {
      if (!*alive) return;
      connecting_ = false;
      if (*made) {
        Install(std::move(**made));
      } else {
        next_connect_ = std::chrono::steady_clock::now() + kRetryAfter;
      }
    });
  });
}

void PgPipeline::Install(std::unique_ptr<PgConnection> conn) {
  PGconn* pg = conn->native_handle();
  const int fd = PQsocket(pg);
  const int own = fd >= 0 ? ::dup(fd) : -1;
  if (own < 0 || PQenterPipelineMode(pg) != 1) {
    if (own >= 0) ::close(own);
    log_.Warn("store_pg_pipeline_failed", {{"error", "cannot enter pipeline mode"}});
    next_connect_ = std::chrono::steady_clock::now() + kRetryAfter;
    return;
  }
  socket_.emplace(executor_, own);
  conn_ = std::move(conn);
  connects_.fetch_add(1, std::memory_order_relaxed);
}

void PgPipeline::Drop(boost::system::error_code error, const char* why) {
  log_.Warn("store_pg_pipeline_lost",
            {{"reason", why}, {"in_flight", std::to_string(waiters_.size())}});
  ++generation_;
  std::deque<std::shared_ptr<Waiter>> waiters;
  waiters.swap(waiters_);
  for (const auto& w : waiters) {
    if (!w->answer) w->answer = AsyncKeyReader::Answer(error);
    w->timer.cancel();
  }
  socket_.reset();
  conn_.reset();
  reading_ = writing_ = false;
  next_connect_ = std::chrono::steady_clock::now() + kRetryAfter;
}

asio::awaitable<std::optional<AsyncKeyReader::Answer>> PgPipeline::FindById(KeyId id) {
  if (!conn_) {
    Open();
    co_return std::nullopt;
  }
  PGconn* pg = conn_->native_handle();
  if (waiters_.empty()) {
    // Idle: read what came meanwhile, so a session the server ended shows now, before a lookup
    // is sent on it (the pool's connections do the same, PgConnection::Poll).
    if (PQconsumeInput(pg) == 0 || PQstatus(pg) != CONNECTION_OK) {
      Drop(make_error_code(Errc::kDatabase), "the server ended the session");
      Open();
      co_return std::nullopt;
    }
  }
  const PgParams params = PgParams().Int(PgId(id));
  const std::vector<const char*> values = params.Values();
  const std::vector<int> lengths = params.Lengths();
  if (PQsendQueryPrepared(pg, pg::kFind, params.size(), values.data(), lengths.data(),
                          params.Formats(), 0) != 1 ||
      PQpipelineSync(pg) != 1) {
    Drop(make_error_code(Errc::kDatabase), "a lookup could not be sent");
    co_return std::nullopt;
  }
  const int flushed = PQflush(pg);
  if (flushed < 0) {
    Drop(make_error_code(Errc::kDatabase), "a lookup could not be sent");
    co_return std::nullopt;
  }
  auto w = std::make_shared<Waiter>(executor_);
  waiters_.push_back(w);
  if (flushed == 1 && !writing_) asio::co_spawn(executor_, WriteLoop(), asio::detached);
  if (!reading_) asio::co_spawn(executor_, ReadLoop(), asio::detached);

  const auto alive = alive_;
  if (!w->answer) {
    w->timer.expires_after(timeout_ + kClientSlack);
    co_await w->timer.async_wait(kTuple);
  }
  if (w->answer) {
    if (*alive) answered_.fetch_add(1, std::memory_order_relaxed);
    co_return std::move(*w->answer);
  }
  if (!*alive) co_return AsyncKeyReader::Answer(make_error_code(Errc::kUnavailable));
  // No answer in time: the server stopped answering, and the session's state is unknown.
  log_.Warn("store_pg_timeout",
            {{"op", "find (pipelined)"}, {"bound_ms", std::to_string(timeout_.count())}});
  Drop(make_error_code(Errc::kTimeout), "a lookup timed out");
  co_return AsyncKeyReader::Answer(make_error_code(Errc::kTimeout));
}

asio::awaitable<void> PgPipeline::ReadLoop() {
  const auto alive = alive_;
  const std::uint64_t generation = generation_;
  reading_ = true;
  while (!waiters_.empty()) {
    auto [ec] = co_await socket_->async_wait(asio::posix::stream_descriptor::wait_read, kTuple);
    if (!*alive || generation != generation_) co_return;  // dropped meanwhile: not ours now
    if (ec) {
      Drop(make_error_code(Errc::kDatabase), "the socket failed");
      co_return;
    }
    if (PQconsumeInput(conn_->native_handle()) == 0) {
      Drop(make_error_code(Errc::kDatabase), "the connection was lost");
      co_return;
    }
    if (!Deliver()) {
      Drop(make_error_code(Errc::kDatabase), "the answers were out of step");
      co_return;
    }
  }
  reading_ = false;
}

asio::awaitable<void> PgPipeline::WriteLoop() {
  const auto alive = alive_;
  const std::uint64_t generation = generation_;
  writing_ = true;
  for (;;) {
    auto [ec] = co_await socket_->async_wait(asio::posix::stream_descriptor::wait_write, kTuple);
    if (!*alive || generation != generation_) co_return;
    const int flushed = ec ? -1 : PQflush(conn_->native_handle());
    if (flushed < 0) {
      Drop(make_error_code(Errc::kDatabase), "a lookup could not be sent");
      co_return;
    }
    if (flushed == 0) break;
  }
  writing_ = false;
}

bool PgPipeline::Deliver() {
  PGconn* pg = conn_->native_handle();
  while (!waiters_.empty() && PQisBusy(pg) == 0) {
    Waiter& w = *waiters_.front();
    PgResult r(PQgetResult(pg));
    if (w.stage == 0) {
      if (!r) return false;
      const ExecStatusType status = PQresultStatus(r.get());
      if (status == PGRES_TUPLES_OK) {
        w.pending = ReadFirstRecord(r.get(), log_);
      } else if (status == PGRES_FATAL_ERROR) {
        w.pending = AsyncKeyReader::Answer(conn_->Failed(r.get(), "find (pipelined)"));
      } else {
        return false;
      }
      w.stage = 1;
    } else if (w.stage == 1) {
      if (r) return false;  // one statement has one result
      w.stage = 2;
    } else {
      if (!r || PQresultStatus(r.get()) != PGRES_PIPELINE_SYNC) return false;
      w.answer = std::move(w.pending);
      w.timer.cancel();
      waiters_.pop_front();
    }
  }
  // A result that ended the session (the server shutting down) leaves nothing to read on.
  if (conn_->broken()) {
    Drop(make_error_code(Errc::kDatabase), "the server ended the session");
  }
  return true;
}

}  // namespace keycache
