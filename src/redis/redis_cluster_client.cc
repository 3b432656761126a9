#include "redis/redis_cluster_client.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <optional>
#include <stdexcept>
#include <utility>

#include "redis/cluster_slots.h"
#include "redis/cluster_state.h"
#include "redis/redis_client.h"

namespace keycache {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using Replies = Result<std::vector<RedisReply>>;

namespace redis_detail {
namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// A command with the sticky ones after it (WAIT): they go, and are redirected, together.
struct Unit {
  std::size_t anchor = 0;
  std::vector<std::size_t> sticky;
  std::optional<std::uint16_t> slot;  // nullopt: any primary
  std::optional<RedisEndpoint> ask;   // the target of an ASK, for the next round only
};

struct Batch {
  RedisEndpoint node;
  std::vector<std::size_t> units;  // indices into the round's units
  RedisRequest request;
};

// Runs each batch's request on its node's pool, concurrently; results in batch order.
asio::awaitable<std::vector<Replies>> RunBatches(std::shared_ptr<ClusterState> state,
                                                 std::vector<Batch>& batches,
                                                 Clock::time_point deadline) {
  const auto executor = co_await asio::this_coro::executor;
  std::vector<ClusterState::Pool> pools;
  for (const auto& b : batches) pools.push_back(state->PoolFor(b.node));
  // A node first seen in a MOVED (a primary just added): give its pool a moment to connect.
  for (const auto& p : pools) {
    if (p.client->connected() || Clock::now() - p.created > state->options().node.connect_timeout)
      continue;
    asio::steady_timer wait(executor);
    while (!p.client->connected() && Clock::now() < deadline && !state->stopping()) {
      wait.expires_after(std::chrono::milliseconds(5));
      co_await wait.async_wait(kTuple);
    }
  }
  std::vector<Replies> out(batches.size(), Replies(make_error_code(Errc::kUnavailable)));
  if (batches.size() == 1) {
    out[0] = co_await pools[0].client->Execute(std::move(batches[0].request));
    co_return out;
  }
  // One coroutine per node on this (single-threaded) executor; the last to finish wakes us.
  struct Join {
    explicit Join(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    std::size_t pending = 0;
  };
  auto join = std::make_shared<Join>(executor);
  join->timer.expires_at(Clock::time_point::max());
  join->pending = batches.size();
  auto results = std::make_shared<std::vector<Replies>>(out);
  for (std::size_t i = 0; i < batches.size(); ++i) {
    asio::co_spawn(executor, pools[i].client->Execute(std::move(batches[i].request)),
                   [join, results, i](std::exception_ptr e, Replies r) {
                     (*results)[i] =
                         e ? Replies(make_error_code(Errc::kUnavailable)) : std::move(r);
                     if (--join->pending == 0) join->timer.cancel();
                   });
  }
  while (join->pending > 0) co_await join->timer.async_wait(kTuple);
  co_return std::move(*results);
}

// One phase: units whose commands may all be in flight at once.
asio::awaitable<Result<void>> RunPhase(std::shared_ptr<ClusterState> state,
                                       const std::vector<std::vector<std::string_view>>& commands,
                                       std::vector<Unit> units, std::vector<RedisReply>& replies,
                                       Clock::time_point deadline, unsigned& any_node) {
  const RedisClusterOptions& o = state->options();
  const auto executor = co_await asio::this_coro::executor;
  auto backoff = std::chrono::milliseconds(20);
  for (int round = 0; !units.empty(); ++round) {
    if (Clock::now() >= deadline) co_return make_error_code(Errc::kTimeout);
    const auto map = state->map();
    if (!map || map->shards.empty()) {
      state->RequestRefresh();
      co_return make_error_code(Errc::kUnavailable);
    }
    std::vector<Batch> batches;
    auto batch_for = [&](const RedisEndpoint& node) -> Batch& {
      for (auto& b : batches) {
        if (b.node == node) return b;
      }
      batches.push_back(Batch{node, {}, {}});
      return batches.back();
    };
    for (std::size_t u = 0; u < units.size(); ++u) {
      const Unit& unit = units[u];
      const RedisEndpoint* node = nullptr;
      if (unit.ask) {
        node = &*unit.ask;
      } else if (unit.slot) {
        node = map->PrimaryOf(*unit.slot);
        if (!node) {  // nobody serves the slot (a shard down with no replica to promote)
          state->RequestRefresh();
          co_return make_error_code(Errc::kUnavailable);
        }
      } else {
        node = &map->shards[any_node++ % map->shards.size()].primary;
      }
      Batch& b = batch_for(*node);
      b.units.push_back(u);
      if (unit.ask) b.request.Push({"ASKING"});
      b.request.Push(std::span<const std::string_view>(commands[unit.anchor]));
      for (std::size_t s : unit.sticky)
        b.request.Push(std::span<const std::string_view>(commands[s]));
    }
    std::vector<Replies> results = co_await RunBatches(state, batches, deadline);
    std::vector<Unit> again;
    bool pause = false;
    for (std::size_t bi = 0; bi < batches.size(); ++bi) {
      Replies& r = results[bi];
      if (!r) {
        state->RequestRefresh();  // a node down or unreachable: the map may have changed
        co_return r.error();
      }
      std::size_t at = 0;
      for (std::size_t u : batches[bi].units) {
        Unit& unit = units[u];
        const std::size_t count = 1 + unit.sticky.size() + (unit.ask ? 1 : 0);
        if (at + count > r->size()) co_return make_error_code(Errc::kUnavailable);
        if (unit.ask) ++at;  // the reply to ASKING
        RedisReply& first = (*r)[at];
        const bool last_round = round >= o.max_redirects;
        if (auto redirect = ParseRedirect(first); redirect && !last_round) {
          if (redirect->ask) {
            unit.ask = redirect->target;
          } else {
            unit.ask.reset();
            state->Moved(redirect->slot, redirect->target);
          }
          again.push_back(std::move(unit));
        } else if (IsTransientClusterError(first) && !last_round) {
          if (first.str.starts_with("CLUSTERDOWN")) state->RequestRefresh();
          unit.ask.reset();
          pause = true;
          again.push_back(std::move(unit));
        } else {
          replies[unit.anchor] = std::move(first);
          for (std::size_t k = 0; k < unit.sticky.size(); ++k) {
            replies[unit.sticky[k]] = std::move((*r)[at + 1 + k]);
          }
        }
        at += 1 + unit.sticky.size();
      }
    }
    units = std::move(again);
    if (pause && !units.empty()) {
      asio::steady_timer wait(executor);
      wait.expires_after(std::min(
          backoff, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())));
      co_await wait.async_wait(kTuple);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(200));
    }
  }
  co_return Result<void>{};
}

asio::awaitable<Replies> ExecuteCluster(std::shared_ptr<ClusterState> state, RedisRequest request) {
  if (request.empty()) co_return std::vector<RedisReply>();
  auto decoded = DecodeCommands(request);
  if (!decoded) co_return decoded.error();
  const auto& commands = *decoded;
  const Clock::time_point deadline = Clock::now() + state->options().node.command_timeout;
  std::vector<RedisReply> replies(commands.size());
  unsigned any_node = static_cast<unsigned>(Clock::now().time_since_epoch().count());
  std::vector<Unit> phase;
  auto flush = [&]() -> asio::awaitable<Result<void>> {
    if (phase.empty()) co_return Result<void>{};
    std::vector<Unit> units;
    units.swap(phase);
    co_return co_await RunPhase(state, commands, std::move(units), replies, deadline, any_node);
  };
  for (std::size_t i = 0; i < commands.size(); ++i) {
    const CommandInfo info = ClassifyCommand(commands[i]);
    switch (info.route) {
      case CommandRoute::kSticky:
        if (!phase.empty()) {
          phase.back().sticky.push_back(i);
          continue;
        }
        phase.push_back(Unit{i, {}, std::nullopt, std::nullopt});
        continue;
      case CommandRoute::kKey:
        phase.push_back(Unit{i, {}, KeySlot(commands[i][info.key_index]), std::nullopt});
        continue;
      case CommandRoute::kChannel:
      case CommandRoute::kAnyNode: {
        // Sent once everything before it has replied.
        if (Result<void> done = co_await flush(); !done) co_return done.error();
        std::optional<std::uint16_t> slot;
        if (info.route == CommandRoute::kChannel) slot = KeySlot(commands[i][info.key_index]);
        phase.push_back(Unit{i, {}, slot, std::nullopt});
        continue;
      }
    }
  }
  if (Result<void> done = co_await flush(); !done) co_return done.error();
  co_return replies;
}

}  // namespace
}  // namespace redis_detail

RedisClusterClient::RedisClusterClient(std::vector<asio::any_io_executor> executors,
                                       RedisClusterOptions options, Logger& log)
    : state_(std::make_shared<redis_detail::ClusterState>(std::move(executors), std::move(options),
                                                          log)) {}

RedisClusterClient::~RedisClusterClient() { Stop(); }

void RedisClusterClient::Start() {
  if (stopped_.load() || started_.exchange(true)) return;
  state_->Start();
}

void RedisClusterClient::Stop() {
  if (stopped_.exchange(true)) return;
  if (!started_.load()) return;
  state_->Stop();
}

void RedisClusterClient::ReleaseIo() { state_->ReleaseIo(); }

asio::awaitable<Replies> RedisClusterClient::Execute(RedisRequest request) {
  return redis_detail::ExecuteCluster(state_, std::move(request));
}

std::vector<std::string> RedisClusterClient::Shards() const {
  std::vector<std::string> out;
  const auto map = state_->map();
  if (!map) return out;
  for (const auto& s : map->shards) out.push_back(s.primary.ToString());
  return out;
}

asio::awaitable<Replies> RedisClusterClient::ExecuteOnShard(std::string shard,
                                                            RedisRequest request) {
  const auto node = ParseEndpoint(shard);
  if (!node) co_return make_error_code(Errc::kUnavailable);
  auto pool = state_->PoolFor(*node);
  Replies r = co_await pool.client->Execute(std::move(request));
  if (!r) state_->RequestRefresh();
  co_return r;
}

bool RedisClusterClient::connected() const { return state_->Connected(); }
std::size_t RedisClusterClient::connected_count() const { return state_->ConnectedCount(); }
std::size_t RedisClusterClient::pool_size() const { return state_->PoolSize(); }
std::string RedisClusterClient::last_error() const { return state_->LastError(); }
bool RedisClusterClient::auth_failed() const { return state_->AuthFailed(); }
std::vector<RedisEndpoint> RedisClusterClient::Nodes() const { return state_->Nodes(); }
std::uint64_t RedisClusterClient::map_refreshes() const { return state_->refreshes(); }
void RedisClusterClient::RequestRefresh() { state_->RequestRefresh(); }

}  // namespace keycache
