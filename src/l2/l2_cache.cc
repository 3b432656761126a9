#include "l2/l2_cache.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <charconv>
#include <functional>

namespace keycache {
namespace {

// Generation counters outlive every entry sealed under an older generation, even one written
// late by a slow fill (database timeout + command timeout), so an expired counter can never
// make such an entry current again.
constexpr TimeMs kGenerationMarginMs = 120'000;
constexpr TimeMs kHeartbeatTtlMs = 60'000;
constexpr std::size_t kScanCount = 1000;
constexpr int kMaxScanRounds = 1'000'000;

std::optional<std::uint64_t> ParseU64(std::string_view s) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// A counter reply: nil is 0 (never changed, or expired with everything sealed under it).
std::optional<std::uint64_t> CounterValue(const RedisReply& r) {
  if (r.is_nil()) return 0;
  if (r.is_string()) return ParseU64(r.str);
  if (r.is_integer() && r.integer >= 0) return static_cast<std::uint64_t>(r.integer);
  return std::nullopt;
}

boost::system::error_code Unavailable() { return make_error_code(Errc::kUnavailable); }

// A fill generation handed to the service carries, in its top 16 bits, the primary epoch
// (Sentinel: the endpoint generation) it was read under; the counter itself is the low 48 bits.
constexpr int kEpochShift = 48;
constexpr std::uint64_t kCounterMask = (std::uint64_t{1} << kEpochShift) - 1;

// Redis error texts start with their code ("READONLY You can't write..."); keep reasons short.
std::string Shorten(std::string_view text) {
  constexpr std::size_t kMax = 160;
  return std::string(text.substr(0, kMax));
}

}  // namespace

// A pipeline and the name of each of its commands, so a refusal names the command refused.
struct L2Cache::Pipeline {
  RedisRequest request;
  std::vector<std::string_view> names;  // string literals
  // A fill: sent only while the primary is still the one its generation was read from.
  std::optional<std::uint64_t> epoch;

  void Push(std::initializer_list<std::string_view> args) {
    request.Push(args);
    names.push_back(*args.begin());
  }
  void Push(std::string_view name, std::span<const std::string_view> args) {
    request.Push(args);
    names.push_back(name);
  }
};

L2Cache::L2Cache(RedisCommands& client, CircuitBreaker& breaker, const CoherenceLease& lease,
                 L2Keys keys, const EntrySealer& sealer, L2Options options, L2Metrics& metrics,
                 boost::asio::any_io_executor background)
    : client_(client),
      breaker_(breaker),
      lease_(lease),
      keys_(std::move(keys)),
      sealer_(sealer),
      options_(options),
      metrics_(metrics),
      background_(std::move(background)) {}

std::uint64_t L2Cache::Epoch() const {
  return client_.primary_generation() & (~std::uint64_t{0} >> kEpochShift);
}

std::optional<std::uint64_t> L2Cache::Stamp(std::uint64_t epoch, std::uint64_t generation) {
  if (generation > kCounterMask) return std::nullopt;  // 2^48 changes to one key: never
  return (epoch << kEpochShift) | generation;
}

boost::asio::awaitable<L2Cache::Replies> L2Cache::Run(Pipeline p, L2Op op, bool even_if_open,
                                                      const std::string* shard) {
  if (!even_if_open && !breaker_.allows()) {
    metrics_.Count(op, L2Result::kSkipped);
    co_return Unavailable();
  }
  // Checked right before the connection is picked (no suspension in between): a fill whose
  // generation came from a primary since replaced is dropped, since the new primary may have
  // lost the INCR that made it stale (docs/adr/0003, "Sentinel").
  if (p.epoch && *p.epoch != Epoch()) {
    metrics_.Count(op, L2Result::kSkipped);
    co_return Unavailable();
  }
  // Not `shard ? co_await ... : co_await ...`: GCC 12 destroys that result too early.
  Replies r = make_error_code(Errc::kUnavailable);
  if (shard) {
    r = co_await client_.ExecuteOnShard(*shard, std::move(p.request));
  } else {
    r = co_await client_.Execute(std::move(p.request));
  }
  if (!r) {
    metrics_.Count(op, L2Result::kError);
    const bool opened = !client_.connected()
                            ? breaker_.Open("no connection to Redis: " + client_.last_error())
                            : breaker_.RecordFailure("Redis failed: " + r.error().message());
    if (opened) metrics_.BreakerOpened();
    co_return r;
  }
  for (std::size_t i = 0; i < r->size(); ++i) {
    const RedisReply& reply = (*r)[i];
    if (!reply.is_error()) continue;
    // A refusal is the server's state (a demoted primary, memory full, a missing permission):
    // stop trusting the tier now rather than after a count of failures.
    metrics_.Count(op, L2Result::kRefused);
    const std::string_view name = i < p.names.size() ? p.names[i] : std::string_view("command");
    if (breaker_.Open("Redis refused " + std::string(name) + ": " + Shorten(reply.str))) {
      metrics_.BreakerOpened();
    }
    co_return Unavailable();
  }
  breaker_.RecordSuccess();
  co_return r;
}

void L2Cache::RunDetached(Pipeline p, L2Op op) {
  if (!breaker_.allows()) {
    metrics_.Count(op, L2Result::kSkipped);
    return;
  }
  // A member coroutine, not a capturing lambda: the frame must not outlive its captures.
  boost::asio::co_spawn(background_, WriteAsync(std::move(p), op), boost::asio::detached);
}

boost::asio::awaitable<void> L2Cache::WriteAsync(Pipeline p, L2Op op) {
  Replies r = co_await Run(std::move(p), op);
  if (r) metrics_.Count(op, L2Result::kOk);
}

Result<L2Cache::Versioned> L2Cache::SplitVersioned(const Replies& replies, L2Op op) {
  if (!replies) return replies.error();
  if (replies->size() != 1 || !(*replies)[0].is_array() || (*replies)[0].elements.size() != 2) {
    metrics_.Count(op, L2Result::kCorrupt);
    return Unavailable();
  }
  const auto& got = (*replies)[0].elements;
  const auto generation = CounterValue(got[0]);
  if (!generation) {
    metrics_.Count(op, L2Result::kCorrupt);
    return Unavailable();  // a foreign value where our counter should be: don't fill either
  }
  if (!got[1].is_string()) {
    metrics_.Count(op, L2Result::kMiss);
    return Versioned{*generation, nullptr};
  }
  return Versioned{*generation, &got[1]};
}

boost::asio::awaitable<SharedRead<FactsAnswer>> L2Cache::ReadFacts(KeyId id) {
  using Read = SharedRead<FactsAnswer>;
  if (!Usable()) {
    metrics_.Count(L2Op::kReadValidation, L2Result::kSkipped);
    co_return Read::NoAnswer();
  }
  const std::string name = keys_.Facts(id);
  const std::uint64_t epoch = Epoch();  // before the read: a change during it drops the fill
  Pipeline p;
  p.Push({"MGET", keys_.Generation(id), name});
  Replies replies = co_await Run(std::move(p), L2Op::kReadValidation);
  auto versioned = SplitVersioned(replies, L2Op::kReadValidation);
  if (!versioned) co_return Read::NoAnswer();
  const auto stamped = Stamp(epoch, versioned->generation);
  if (!stamped) co_return Read::NoAnswer();
  const std::uint64_t generation = *stamped;
  if (!versioned->entry) co_return Read::Miss(generation);
  auto entry = sealer_.OpenFacts(name, id, versioned->entry->str);
  if (!entry) {
    metrics_.Count(L2Op::kReadValidation, L2Result::kCorrupt);
    co_return Read::Miss(generation);  // the fill overwrites it
  }
  if (entry->generation != versioned->generation) {
    metrics_.Count(L2Op::kReadValidation, L2Result::kStale);
    co_return Read::Miss(generation);
  }
  metrics_.Count(L2Op::kReadValidation, L2Result::kHit);
  co_return Read::Hit(std::move(entry->answer), generation);
}

void L2Cache::WriteFacts(KeyId id, std::uint64_t generation, FactsAnswer answer) {
  const std::string name = keys_.Facts(id);
  const TimeMs ttl = answer.found() ? options_.validation_ttl_ms : options_.negative_ttl_ms;
  Pipeline p;
  p.epoch = generation >> kEpochShift;
  p.Push({"SET", name, sealer_.SealFacts(name, generation & kCounterMask, answer), "PX",
          std::to_string(ttl)});
  RunDetached(std::move(p), L2Op::kWriteValidation);
}

boost::asio::awaitable<SharedRead<std::string>> L2Cache::ReadUserList(std::string owner) {
  using Read = SharedRead<std::string>;
  if (!Usable()) {
    metrics_.Count(L2Op::kReadUserList, L2Result::kSkipped);
    co_return Read::NoAnswer();
  }
  const std::string name = keys_.UserList(owner);
  const std::uint64_t epoch = Epoch();
  Pipeline p;
  p.Push({"MGET", keys_.OwnerGeneration(owner), name});
  Replies replies = co_await Run(std::move(p), L2Op::kReadUserList);
  auto versioned = SplitVersioned(replies, L2Op::kReadUserList);
  if (!versioned) co_return Read::NoAnswer();
  const auto stamped = Stamp(epoch, versioned->generation);
  if (!stamped) co_return Read::NoAnswer();
  const std::uint64_t generation = *stamped;
  if (!versioned->entry) co_return Read::Miss(generation);
  auto entry = sealer_.OpenBlob(name, versioned->entry->str);
  if (!entry || entry->generation != versioned->generation) {
    metrics_.Count(L2Op::kReadUserList, entry ? L2Result::kStale : L2Result::kCorrupt);
    co_return Read::Miss(generation);
  }
  metrics_.Count(L2Op::kReadUserList, L2Result::kHit);
  co_return Read::Hit(std::move(entry->body), generation);
}

void L2Cache::WriteUserList(std::string owner, std::uint64_t generation, std::string body) {
  const std::string name = keys_.UserList(owner);
  Pipeline p;
  p.epoch = generation >> kEpochShift;
  p.Push({"SET", name, sealer_.SealBlob(name, generation & kCounterMask, body), "PX",
          std::to_string(options_.user_list_ttl_ms)});
  RunDetached(std::move(p), L2Op::kWriteUserList);
}

boost::asio::awaitable<Result<void>> L2Cache::Fence(InvalidationMessage m, bool even_if_open) {
  const L2Op op = m.heartbeat ? L2Op::kHeartbeat : L2Op::kInvalidate;
  if (!even_if_open && !breaker_.allows()) {
    metrics_.Count(op, L2Result::kSkipped);
    co_return Unavailable();
  }
  const std::string generation_ttl = std::to_string(
      std::max(options_.validation_ttl_ms, options_.user_list_ttl_ms) + kGenerationMarginMs);
  Pipeline p;
  const bool wait = !m.heartbeat && options_.fence_replicas > 0;
  const std::string replicas = std::to_string(options_.fence_replicas);
  const std::string wait_ms = std::to_string(options_.fence_replica_timeout_ms);
  std::vector<std::size_t> waits;  // indices of the WAITs
  // The WAIT right after the counter's writes: on a cluster it goes with the command before it,
  // to the counter's primary, even while a migration redirects the entry elsewhere.
  auto bump = [&](const std::string& counter, const std::string& entry, const std::string& ttl) {
    p.Push({"INCR", counter});
    p.Push({"PEXPIRE", counter, ttl});
    if (wait) {
      waits.push_back(p.names.size());
      p.Push({"WAIT", replicas, wait_ms});
    }
    p.Push({"UNLINK", entry});
  };
  if (m.warm) {
    // A request, not a change: nothing to fence, only the PUBLISH below.
  } else if (m.heartbeat) {
    // The same commands as a change, so a Redis that would refuse a change refuses this too.
    const std::string counter = keys_.Heartbeat(m.source);
    bump(counter, counter + ":fence", std::to_string(kHeartbeatTtlMs));
  } else {
    const CacheChange& c = m.change;
    switch (c.kind) {
      case CacheChange::Kind::kKey:
        bump(keys_.Generation(c.id), keys_.Facts(c.id), generation_ttl);
        if (!c.owner.empty()) {
          bump(keys_.OwnerGeneration(c.owner), keys_.UserList(c.owner), generation_ttl);
        }
        break;
      case CacheChange::Kind::kOwner:
        bump(keys_.OwnerGeneration(c.owner), keys_.UserList(c.owner), generation_ttl);
        break;
      case CacheChange::Kind::kType: {
        const std::string pattern = keys_.Pattern(c.type);
        if (!pattern.empty()) {
          Result<void> cleared = co_await ScanAndUnlink(pattern, even_if_open);
          if (!cleared) co_return cleared;
        }
        break;
      }
      case CacheChange::Kind::kAll:
        for (CacheType t : {CacheType::kValidation, CacheType::kUserList}) {
          Result<void> cleared = co_await ScanAndUnlink(keys_.Pattern(t), even_if_open);
          if (!cleared) co_return cleared;
        }
        break;
    }
  }
  p.Push({"PUBLISH", keys_.Channel(), EncodeInvalidation(m)});
  Replies replies = co_await Run(std::move(p), op, even_if_open);
  if (!replies) co_return replies.error();
  for (std::size_t i : waits) {
    const RedisReply& got = (*replies)[i];
    if (!got.is_integer() || got.integer < options_.fence_replicas) {
      // Taken by the primary but not (yet) by its replica: a failover now could lose the bump,
      // so the change is not in force. Not a state of the whole tier: the breaker stays as it
      // is, the invalidator keeps the change and replays it (the bump again, harmlessly).
      metrics_.Count(op, L2Result::kRefused);
      co_return Unavailable();
    }
  }
  metrics_.Count(op, L2Result::kOk);
  co_return Result<void>{};
}

boost::asio::awaitable<Result<void>> L2Cache::ScanEach(
    std::string pattern, bool even_if_open,
    std::function<boost::asio::awaitable<Result<void>>(std::vector<RedisReply>&)> page) {
  const std::vector<std::string> shards = client_.Shards();
  if (shards.empty()) co_return Unavailable();  // a cluster whose map is not known yet
  for (const std::string& shard : shards) {
    Result<void> walked = co_await ScanShard(pattern, even_if_open, shard, page);
    if (!walked) co_return walked;
  }
  metrics_.Count(L2Op::kScan, L2Result::kOk);
  co_return Result<void>{};
}

boost::asio::awaitable<Result<void>> L2Cache::ScanShard(
    const std::string& pattern, bool even_if_open, const std::string& shard,
    const std::function<boost::asio::awaitable<Result<void>>(std::vector<RedisReply>&)>& page) {
  std::string cursor = "0";
  for (int round = 0; round < kMaxScanRounds; ++round) {
    Pipeline scan;
    scan.Push({"SCAN", cursor, "MATCH", pattern, "COUNT", std::to_string(kScanCount)});
    Replies r = co_await Run(std::move(scan), L2Op::kScan, even_if_open, &shard);
    if (!r) co_return r.error();
    if (r->size() != 1 || !(*r)[0].is_array() || (*r)[0].elements.size() != 2 ||
        !(*r)[0].elements[0].is_string() || !(*r)[0].elements[1].is_array()) {
      metrics_.Count(L2Op::kScan, L2Result::kCorrupt);
      co_return Unavailable();
    }
    auto& reply = (*r)[0].elements;
    cursor = reply[0].str;
    Result<void> done = co_await page(reply[1].elements);
    if (!done) co_return done;
    if (cursor == "0") co_return Result<void>{};
  }
  co_return make_error_code(Errc::kTimeout);
}

boost::asio::awaitable<Result<void>> L2Cache::ScanAndUnlink(std::string pattern,
                                                            bool even_if_open) {
  auto unlink =
      [this, even_if_open](std::vector<RedisReply>& keys) -> boost::asio::awaitable<Result<void>> {
    // One UNLINK per key: on a cluster the keys of a page are in many slots.
    Pipeline p;
    for (const auto& k : keys) {
      if (k.is_string()) p.Push({"UNLINK", k.str});
    }
    if (p.names.empty()) co_return Result<void>{};
    Replies u = co_await Run(std::move(p), L2Op::kScan, even_if_open);
    if (!u) co_return u.error();
    co_return Result<void>{};
  };
  co_return co_await ScanEach(std::move(pattern), even_if_open, std::move(unlink));
}

boost::asio::awaitable<Result<std::uint64_t>> L2Cache::ScanCount(std::string pattern) {
  auto n = std::make_shared<std::uint64_t>(0);
  auto count = [n](std::vector<RedisReply>& keys) -> boost::asio::awaitable<Result<void>> {
    *n += keys.size();
    co_return Result<void>{};
  };
  Result<void> scanned = co_await ScanEach(std::move(pattern), false, std::move(count));
  if (!scanned) co_return scanned.error();
  co_return *n;
}

boost::asio::awaitable<Result<L2Counts>> L2Cache::Count() {
  L2Counts c;
  auto v = co_await ScanCount(keys_.Pattern(CacheType::kValidation));
  if (!v) co_return v.error();
  auto u = co_await ScanCount(keys_.Pattern(CacheType::kUserList));
  if (!u) co_return u.error();
  auto n = co_await ScanCount(keys_.Pattern(CacheType::kUsage));
  if (!n) co_return n.error();
  c.validation = *v;
  c.user_list = *u;
  c.usage = *n;
  co_return c;
}

void L2Cache::AddUsage(std::span<const UsageDelta> deltas, TimeMs now) {
  if (deltas.empty()) return;
  const std::int64_t minute = now / 60'000;
  const std::string ttl = std::to_string(options_.usage_ttl_ms + 60'000);
  Pipeline p;
  for (const UsageDelta& d : deltas) {
    const std::string name = keys_.Usage(d.id, minute);
    p.Push({"INCRBY", name, std::to_string(d.count)});
    p.Push({"PEXPIRE", name, ttl});
  }
  RunDetached(std::move(p), L2Op::kUsage);
}

boost::asio::awaitable<Result<RecentUsage>> L2Cache::ReadRecentUsage(KeyId id, TimeMs now) {
  if (!breaker_.allows()) {
    metrics_.Count(L2Op::kUsage, L2Result::kSkipped);
    co_return Unavailable();
  }
  const std::int64_t minute = now / 60'000;
  Pipeline p;
  p.Push({"MGET", keys_.Usage(id, minute), keys_.Usage(id, minute - 1)});
  Replies r = co_await Run(std::move(p), L2Op::kUsage);
  if (!r) co_return r.error();
  if (r->size() != 1 || !(*r)[0].is_array() || (*r)[0].elements.size() != 2) {
    metrics_.Count(L2Op::kUsage, L2Result::kCorrupt);
    co_return Unavailable();
  }
  metrics_.Count(L2Op::kUsage, L2Result::kOk);
  co_return RecentUsage{CounterValue((*r)[0].elements[0]).value_or(0),
                        CounterValue((*r)[0].elements[1]).value_or(0)};
}

boost::asio::awaitable<Result<std::int64_t>> L2Cache::MemoryUsage(std::string name) {
  Pipeline p;
  p.Push({"MEMORY", "USAGE", name});
  Replies r = co_await Run(std::move(p), L2Op::kScan);
  if (!r) co_return r.error();
  if (r->size() != 1 || !(*r)[0].is_integer()) co_return make_error_code(Errc::kNotFound);
  co_return (*r)[0].integer;
}

}  // namespace keycache
