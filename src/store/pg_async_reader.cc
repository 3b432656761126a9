#include "store/pg_async_reader.h"

#include <algorithm>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/this_coro.hpp>

#include "store/pg_pipeline.h"
#include "store/pg_statements.h"

namespace keycache {
namespace {

namespace asio = boost::asio;

const asio::execution_context* ContextOf(const asio::any_io_executor& ex) {
  return &asio::query(ex, asio::execution::context);
}

// The find statement alone: all a pipeline sends. A view into pg::Statements(), which lives as
// long as the program (PgConnection::Prepare keeps the span for its resets).
std::span<const PgStatementDef> FindStatement() {
  const auto all = pg::Statements();
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (std::string_view(all[i].name) == pg::kFind) return all.subspan(i, 1);
  }
  return {};
}

}  // namespace

PgAsyncReader::PgAsyncReader(std::vector<asio::any_io_executor> executors,
                             PgAsyncReaderOptions options, Blocking blocking, Logger& log) {
  auto connect = [options, &log]() -> Result<std::unique_ptr<PgConnection>> {
    // Start-up is no request: at least 10 s to connect, as the pool's connections get.
    const auto deadline =
        PgClock::now() + std::max(options.timeout, std::chrono::milliseconds(10'000));
    auto c = PgConnection::Connect(
        options.url, {.timeout = options.timeout, .application_name = "keycached-reader"}, deadline,
        log);
    if (!c) return c.error();
    if (auto r = (*c)->Prepare(FindStatement(), deadline); !r) return r.error();
    return c;
  };
  for (auto& ex : executors) {
    pipelines_.push_back(
        std::make_unique<PgPipeline>(std::move(ex), connect, blocking, options.timeout, log));
  }
}

PgAsyncReader::~PgAsyncReader() = default;

void PgAsyncReader::Open() {
  for (auto& p : pipelines_) {
    asio::post(p->executor(), [p = p.get()] { p->Open(); });
  }
}

asio::awaitable<std::optional<AsyncKeyReader::Answer>> PgAsyncReader::FindById(KeyId id) {
  const auto here = ContextOf(co_await asio::this_coro::executor);
  for (auto& p : pipelines_) {
    if (ContextOf(p->executor()) == here) co_return co_await p->FindById(id);
  }
  co_return std::nullopt;
}

std::uint64_t PgAsyncReader::answered() const {
  std::uint64_t n = 0;
  for (const auto& p : pipelines_) n += p->answered();
  return n;
}

}  // namespace keycache
