#include "redis/redis_query.h"

#include <boost/asio/this_coro.hpp>
#include <memory>
#include <utility>

#include "redis/redis_stream.h"
#include "redis/resp_parser.h"

namespace keycache {

namespace asio = boost::asio;

asio::awaitable<RedisQueryResult> QueryRedisOnce(const RedisOptions& options,
                                                 asio::ssl::context* tls, RedisRequest request) {
  auto executor = co_await asio::this_coro::executor;
  redis_detail::RedisStream stream(executor, tls);
  RespParser parser;
  if (auto failure = co_await redis_detail::OpenRedisStream(stream, options, parser)) {
    co_return RedisQueryResult{std::nullopt, failure->message, failure->auth_failed};
  }
  redis_detail::StreamWatchdog watchdog(executor, stream, options.command_timeout);
  const std::string where = options.host + ":" + std::to_string(options.port) + ": ";
  auto [wec, written] = co_await stream.Write(asio::buffer(request.payload()));
  if (wec) co_return RedisQueryResult{std::nullopt, where + wec.message()};
  char buffer[4096];
  for (;;) {
    auto next = parser.Next();
    if (!next) co_return RedisQueryResult{std::nullopt, where + "RESP protocol error"};
    if (*next) {
      stream.Close();
      co_return RedisQueryResult{std::move(**next), {}};
    }
    auto [rec, n] = co_await stream.ReadSome(asio::buffer(buffer));
    if (rec) co_return RedisQueryResult{std::nullopt, where + "no reply: " + rec.message()};
    parser.Feed(std::string_view(buffer, n));
  }
}

}  // namespace keycache
