#include "redis/redis_cluster_client.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <utility>

#include "redis/cluster_slots.h"
#include "redis/cluster_topology.h"
#include "redis/redis_client.h"
#include "redis/redis_stream.h"

namespace keycache {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using Replies = Result<std::vector<RedisReply>>;

namespace redis_detail {
namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

std::set<RedisEndpoint> PrimariesOf(const SlotMap& map) {
  std::set<RedisEndpoint> out;
  for (const auto& s : map.shards) out.insert(s.primary);
  return out;
}

std::string Describe(const std::set<RedisEndpoint>& nodes) {
  std::string out;
  for (const auto& n : nodes) out += (out.empty() ? "" : ",") + n.ToString();
  return out;
}

}  // namespace

// The map and the pools, shared with the Execute coroutines in flight and the refresh loop.
class ClusterState : public std::enable_shared_from_this<ClusterState> {
 public:
  struct Pool {
    std::shared_ptr<RedisClient> client;
    Clock::time_point created;
  };

  ClusterState(std::vector<asio::any_io_executor> executors, RedisClusterOptions options,
               Logger& log)
      : executors_(std::move(executors)),
        options_(std::move(options)),
        log_(log),
        control_(executors_.empty() ? asio::any_io_executor() : executors_.back()),
        refresh_timer_(control_) {
    if (executors_.empty()) {
      throw std::invalid_argument("RedisClusterClient needs at least one executor");
    }
    if (options_.node.tls.active()) tls_ = MakeTlsContext(options_.node.tls, tls_error_);
  }

  const RedisClusterOptions& options() const { return options_; }

  void Start() {
    {
      std::lock_guard lock(mu_);
      started_ = true;
      refresh_running_ = true;
      for (auto& [e, p] : pools_) p.client->Start();
    }
    asio::co_spawn(control_, RefreshLoop(), [self = shared_from_this()](std::exception_ptr e) {
      if (e) self->log_.Error("redis_cluster_refresh_crashed");
      std::lock_guard lock(self->mu_);
      self->refresh_running_ = false;
      self->done_cv_.notify_all();
    });
  }

  void Stop() {
    stopping_.store(true, std::memory_order_release);
    asio::post(control_, [self = shared_from_this()] { self->refresh_timer_.cancel(); });
    std::vector<std::shared_ptr<RedisClient>> clients;
    {
      std::unique_lock lock(mu_);
      done_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return !refresh_running_; });
      for (auto& [e, p] : pools_) clients.push_back(p.client);
    }
    for (auto& c : clients) c->Stop();
  }

  void ReleaseIo() {
    std::lock_guard lock(mu_);
    for (auto& [e, p] : pools_) p.client->ReleaseIo();
  }

  bool stopping() const { return stopping_.load(std::memory_order_acquire); }

  std::shared_ptr<const SlotMap> map() const {
    std::lock_guard lock(mu_);
    return map_;
  }

  // The pool of `node`, created (and started) on first use.
  Pool PoolFor(const RedisEndpoint& node) {
    std::lock_guard lock(mu_);
    return PoolForLocked(node);
  }

  // A MOVED: the slot is served by `node` now. A node that was no primary before is a
  // promotion (or a new primary): reported now, before the redirected command is sent, so that
  // nothing sent through the new primary is trusted before the change is known.
  void Moved(std::uint16_t slot, const RedisEndpoint& node) {
    bool new_primary = false;
    {
      std::lock_guard lock(mu_);
      new_primary =
          map_ && std::none_of(map_->shards.begin(), map_->shards.end(),
                               [&](const SlotMap::Shard& s) { return s.primary == node; });
    }
    // Reported before the map can send anything there.
    if (new_primary) {
      const std::string what = "MOVED to " + node.ToString() + ", not a primary before";
      log_.Warn("redis_cluster_topology_changed", {{"change", what}});
      if (options_.on_primaries_changed) options_.on_primaries_changed(what);
    }
    {
      std::lock_guard lock(mu_);
      if (map_) {
        const RedisEndpoint* owner = map_->PrimaryOf(slot);
        if (!owner || !(*owner == node)) {
          auto updated = std::make_shared<SlotMap>(*map_);
          updated->Assign(slot, node);
          map_ = std::move(updated);
        }
      }
      PoolForLocked(node);
    }
    RequestRefresh();
  }

  void RequestRefresh() {
    if (refresh_requested_.exchange(true)) return;
    asio::post(control_, [self = shared_from_this()] { self->refresh_timer_.cancel(); });
  }

  std::vector<RedisEndpoint> Nodes() const {
    std::lock_guard lock(mu_);
    if (map_ && !map_->shards.empty()) return map_->AllNodes();
    return options_.seeds;
  }

  std::vector<std::shared_ptr<RedisClient>> PrimaryClients() const {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<RedisClient>> out;
    if (!map_) return out;
    for (const auto& s : map_->shards) {
      auto it = pools_.find(s.primary);
      if (it != pools_.end()) out.push_back(it->second.client);
    }
    return out;
  }

  bool Connected() const {
    std::lock_guard lock(mu_);
    if (!map_ || !map_->Complete()) return false;
    for (const auto& s : map_->shards) {
      auto it = pools_.find(s.primary);
      if (it == pools_.end() || !it->second.client->connected()) return false;
    }
    return true;
  }

  std::size_t ConnectedCount() const {
    std::size_t n = 0;
    for (const auto& c : PrimaryClients()) n += c->connected_count();
    return n;
  }

  std::size_t PoolSize() const {
    std::size_t n = 0;
    for (const auto& c : PrimaryClients()) n += c->pool_size();
    return n;
  }

  std::string LastError() const {
    for (const auto& c : PrimaryClients()) {
      std::string e = c->last_error();
      if (!e.empty()) return e;
    }
    std::lock_guard lock(mu_);
    return last_error_;
  }

  bool AuthFailed() const {
    for (const auto& c : PrimaryClients()) {
      if (c->auth_failed()) return true;
    }
    std::lock_guard lock(mu_);
    return auth_failed_;
  }

  std::uint64_t refreshes() const { return refreshes_.load(std::memory_order_relaxed); }

 private:
  Pool PoolForLocked(const RedisEndpoint& node) {
    auto it = pools_.find(node);
    if (it != pools_.end()) return it->second;
    RedisOptions o = options_.node;
    o.host = node.host;
    o.port = node.port;
    // At least one connection per executor: a caller then always finds one on its own
    // executor (no call posted to another thread's event loop, which may be gone at shutdown
    // while the call still refers to the caller's).
    o.pool_size = std::max(o.pool_size, static_cast<int>(executors_.size()));
    Pool p{std::make_shared<RedisClient>(executors_, std::move(o), log_), Clock::now()};
    if (started_ && !stopping()) p.client->Start();
    pools_.emplace(node, p);
    return p;
  }

  asio::awaitable<void> RefreshLoop() {
    Clock::time_point last{};
    while (!stopping()) {
      if (!refresh_requested_.exchange(false) && last != Clock::time_point{}) {
        refresh_timer_.expires_after(options_.refresh_interval);
        co_await refresh_timer_.async_wait(kTuple);
        if (stopping()) break;
        refresh_requested_.store(false);
      }
      // A short pause between refreshes asked for by events (a burst of MOVED replies, a
      // cluster failing over answering CLUSTERDOWN to everyone).
      const auto since = Clock::now() - last;
      if (last != Clock::time_point{} && since < options_.refresh_min_gap) {
        refresh_timer_.expires_after(options_.refresh_min_gap - since);
        co_await refresh_timer_.async_wait(kTuple);
        if (stopping()) break;
      }
      last = Clock::now();
      const bool ok = co_await RefreshOnce();
      // Without a map nothing works: retry soon rather than after a full interval.
      if (!ok && !map()) refresh_requested_.store(true);
    }
  }

  // Reads the map from the first node that answers: the primaries' pools first (no new
  // connection), then one-shot connections to every node we know of and to the seeds.
  asio::awaitable<bool> RefreshOnce() {
    for (const auto& client : PrimaryClients()) {
      if (!client->connected() || stopping()) continue;
      RedisRequest ask;
      ask.Push({"CLUSTER", "SHARDS"});
      ask.Push({"CLUSTER", "SLOTS"});
      Replies r = co_await client->Execute(std::move(ask));
      if (!r || r->size() != 2) continue;
      auto parsed = SlotMapFromReplies((*r)[0], &(*r)[1], options_.node.tls.active());
      if (parsed && Apply(std::move(*parsed))) co_return true;
    }
    std::vector<RedisEndpoint> candidates = Nodes();
    for (const auto& s : options_.seeds) {
      if (std::find(candidates.begin(), candidates.end(), s) == candidates.end()) {
        candidates.push_back(s);
      }
    }
    if (!tls_error_.empty()) {
      SetError(tls_error_, false);
      co_return false;
    }
    TopologyFailure failure;
    for (const auto& node : candidates) {
      if (stopping()) co_return false;
      RedisOptions o = options_.node;
      o.host = node.host;
      o.port = node.port;
      auto parsed = co_await FetchSlotMap(std::move(o), tls_.get(), failure);
      if (parsed && Apply(std::move(*parsed))) co_return true;
    }
    SetError(failure.message.empty() ? "no Redis Cluster node answered" : failure.message,
             failure.auth_failed);
    if (!failure.message.empty() && failure.message != last_logged_) {
      log_.Warn("redis_cluster_map_unavailable", {{"error", failure.message}});
      last_logged_ = failure.message;
    }
    co_return false;
  }

  void SetError(std::string text, bool auth) {
    std::lock_guard lock(mu_);
    last_error_ = std::move(text);
    auth_failed_ = auth;
  }

  // Installs a map read from a node; false if it serves no slot at all (a node not yet part of
  // the cluster).
  bool Apply(SlotMap fresh) {
    if (fresh.shards.empty()) return false;
    const std::set<RedisEndpoint> after = PrimariesOf(fresh);
    std::set<RedisEndpoint> before;
    bool first = false;
    {
      std::lock_guard lock(mu_);
      first = !map_;
      if (map_) before = PrimariesOf(*map_);
    }
    // Reported before the new map can send anything to a new primary.
    if (!first && before != after) {
      const std::string what = "primaries " + Describe(before) + " -> " + Describe(after);
      log_.Warn("redis_cluster_topology_changed", {{"change", what}});
      if (options_.on_primaries_changed) options_.on_primaries_changed(what);
    }
    {
      std::lock_guard lock(mu_);
      for (const auto& s : fresh.shards) PoolForLocked(s.primary);
      map_ = std::make_shared<const SlotMap>(std::move(fresh));
      last_error_.clear();
      auth_failed_ = false;
    }
    refreshes_.fetch_add(1, std::memory_order_relaxed);
    last_logged_.clear();
    if (first) log_.Info("redis_cluster_map", {{"primaries", Describe(after)}});
    return true;
  }

  const std::vector<asio::any_io_executor> executors_;
  const RedisClusterOptions options_;
  Logger& log_;
  const asio::any_io_executor control_;
  std::shared_ptr<asio::ssl::context> tls_;
  std::string tls_error_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> refresh_requested_{true};
  std::atomic<std::uint64_t> refreshes_{0};

  mutable std::mutex mu_;  // guards what follows
  std::condition_variable done_cv_;
  bool started_ = false;
  bool refresh_running_ = false;
  std::shared_ptr<const SlotMap> map_;
  std::map<RedisEndpoint, Pool> pools_;  // every node we have sent to; stopped in Stop()
  std::string last_error_;
  bool auth_failed_ = false;

  // Control executor only.
  asio::steady_timer refresh_timer_;
  std::string last_logged_;
};

namespace {

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
