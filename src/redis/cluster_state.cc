#include "redis/cluster_state.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <set>
#include <stdexcept>
#include <utility>

#include "redis/cluster_topology.h"
#include "redis/redis_stream.h"

namespace keycache::redis_detail {

namespace asio = boost::asio;
using Replies = Result<std::vector<RedisReply>>;

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

ClusterState::ClusterState(std::vector<asio::any_io_executor> executors,
                           RedisClusterOptions options, Logger& log)
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

void ClusterState::Start() {
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

void ClusterState::Stop() {
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

void ClusterState::ReleaseIo() {
  std::lock_guard lock(mu_);
  for (auto& [e, p] : pools_) p.client->ReleaseIo();
}

void ClusterState::Moved(std::uint16_t slot, const RedisEndpoint& node) {
  bool new_primary = false;
  {
    std::lock_guard lock(mu_);
    new_primary = map_ && std::none_of(map_->shards.begin(), map_->shards.end(),
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

void ClusterState::RequestRefresh() {
  if (refresh_requested_.exchange(true)) return;
  asio::post(control_, [self = shared_from_this()] { self->refresh_timer_.cancel(); });
}

std::vector<RedisEndpoint> ClusterState::Nodes() const {
  std::lock_guard lock(mu_);
  if (map_ && !map_->shards.empty()) return map_->AllNodes();
  return options_.seeds;
}

std::vector<std::shared_ptr<RedisClient>> ClusterState::PrimaryClients() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<RedisClient>> out;
  if (!map_) return out;
  for (const auto& s : map_->shards) {
    auto it = pools_.find(s.primary);
    if (it != pools_.end()) out.push_back(it->second.client);
  }
  return out;
}

bool ClusterState::Connected() const {
  std::lock_guard lock(mu_);
  if (!map_ || !map_->Complete()) return false;
  for (const auto& s : map_->shards) {
    auto it = pools_.find(s.primary);
    if (it == pools_.end() || !it->second.client->connected()) return false;
  }
  return true;
}

std::size_t ClusterState::ConnectedCount() const {
  std::size_t n = 0;
  for (const auto& c : PrimaryClients()) n += c->connected_count();
  return n;
}

std::size_t ClusterState::PoolSize() const {
  std::size_t n = 0;
  for (const auto& c : PrimaryClients()) n += c->pool_size();
  return n;
}

std::string ClusterState::LastError() const {
  for (const auto& c : PrimaryClients()) {
    std::string e = c->last_error();
    if (!e.empty()) return e;
  }
  std::lock_guard lock(mu_);
  return last_error_;
}

bool ClusterState::AuthFailed() const {
  for (const auto& c : PrimaryClients()) {
    if (c->auth_failed()) return true;
  }
  std::lock_guard lock(mu_);
  return auth_failed_;
}

ClusterState::Pool ClusterState::PoolForLocked(const RedisEndpoint& node) {
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

asio::awaitable<void> ClusterState::RefreshLoop() {
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

asio::awaitable<bool> ClusterState::RefreshOnce() {
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

void ClusterState::SetError(std::string text, bool auth) {
  std::lock_guard lock(mu_);
  last_error_ = std::move(text);
  auth_failed_ = auth;
}

bool ClusterState::Apply(SlotMap fresh) {
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

}  // namespace keycache::redis_detail
