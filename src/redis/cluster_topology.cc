#include "redis/cluster_topology.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <optional>

#include "redis/redis_request.h"
#include "redis/redis_stream.h"
#include "redis/resp_parser.h"

namespace keycache::redis_detail {

namespace asio = boost::asio;

Result<SlotMap> SlotMapFromReplies(const RedisReply& shards, const RedisReply* slots,
                                   bool use_tls_port) {
  if (!shards.is_error()) return ParseClusterShards(shards, use_tls_port);
  if (slots == nullptr || slots->is_error()) return Errc::kBadInput;
  return ParseClusterSlots(*slots);
}

asio::awaitable<Result<SlotMap>> FetchSlotMap(RedisOptions node, asio::ssl::context* tls,
                                              TopologyFailure& failure) {
  const auto executor = co_await asio::this_coro::executor;
  RedisStream stream(executor, tls);
  RespParser parser;
  node.client_name.clear();  // a probe, not one of the pool's connections
  if (auto open = co_await OpenRedisStream(stream, node, parser)) {
    failure = TopologyFailure{open->message, open->auth_failed};
    co_return Errc::kUnavailable;
  }
  // The watchdog closes the stream when command_timeout runs out.
  auto done = std::make_shared<bool>(false);
  asio::steady_timer watchdog(executor);
  watchdog.expires_after(node.command_timeout);
  watchdog.async_wait([&stream, done](boost::system::error_code ec) {
    if (!ec && !*done) stream.Close();
  });
  struct Disarm {
    asio::steady_timer& timer;
    std::shared_ptr<bool> done;
    ~Disarm() {
      *done = true;
      timer.cancel();
    }
  } disarm{watchdog, done};

  RedisRequest ask;
  ask.Push({"CLUSTER", "SHARDS"});
  ask.Push({"CLUSTER", "SLOTS"});
  const std::string where = "Redis Cluster node " + node.host + ":" + std::to_string(node.port);
  if (auto [ec, n] = co_await stream.Write(asio::buffer(ask.payload())); ec) {
    failure = TopologyFailure{where + ": " + ec.message()};
    co_return Errc::kUnavailable;
  }
  std::vector<RedisReply> replies;
  char buffer[16 * 1024];
  while (replies.size() < 2) {
    auto next = parser.Next();
    if (!next) {
      failure = TopologyFailure{where + ": protocol error"};
      co_return Errc::kUnavailable;
    }
    if (*next) {
      replies.push_back(std::move(**next));
      continue;
    }
    auto [ec, n] = co_await stream.ReadSome(asio::buffer(buffer));
    if (ec) {
      failure = TopologyFailure{where + ": " + ec.message()};
      co_return Errc::kUnavailable;
    }
    parser.Feed(std::string_view(buffer, n));
  }
  stream.Close();
  auto map = SlotMapFromReplies(replies[0], &replies[1], node.tls.active());
  if (!map) {
    failure = TopologyFailure{
        where + " gave no usable slot map: " +
        std::string(replies[0].is_error() ? replies[0].text() : "unexpected reply shape")};
  }
  co_return map;
}

}  // namespace keycache::redis_detail
