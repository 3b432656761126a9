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
constexpr std::size_t kScanCount = 1000;
constexpr int kMaxScanRounds = 1'000'000;

std::optional<std::uint64_t> ParseU64(std::string_view s) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// A generation reply: nil is 0 (never changed, or expired with everything sealed under it).
std::optional<std::uint64_t> Generation(const RedisReply& r) {
  if (r.is_nil()) return 0;
  if (r.is_string()) return ParseU64(r.str);
  if (r.is_integer() && r.integer >= 0) return static_cast<std::uint64_t>(r.integer);
  return std::nullopt;
}

boost::system::error_code Unavailable() { return make_error_code(Errc::kUnavailable); }

bool AnyError(const std::vector<RedisReply>& replies) {
  for (const auto& r : replies) {
    if (r.is_error()) return true;
  }
  return false;
}

}  // namespace

L2Cache::L2Cache(RedisClient& client, CircuitBreaker& breaker, L2Keys keys,
                 const EntrySealer& sealer, L2Options options, L2Metrics& metrics,
                 boost::asio::any_io_executor background)
    : client_(client),
      breaker_(breaker),
      keys_(std::move(keys)),
      sealer_(sealer),
      options_(options),
      metrics_(metrics),
      background_(std::move(background)) {}

L2Cache::Replies L2Cache::Account(Replies r) {
  if (r) {
    breaker_.RecordSuccess();
  } else if (!client_.connected() ? breaker_.Open("no connection to Redis: " + client_.last_error())
                                  : breaker_.RecordFailure(r.error().message())) {
    metrics_.BreakerOpened();
  }
  return r;
}

boost::asio::awaitable<L2Cache::Replies> L2Cache::Run(RedisRequest request) {
  if (!breaker_.allows()) co_return Unavailable();
  Replies r = co_await client_.Execute(std::move(request));
  co_return Account(std::move(r));
}

L2Cache::Replies L2Cache::RunSync(RedisRequest request, bool even_if_open) {
  if (!even_if_open && !breaker_.allows()) return Unavailable();
  return Account(client_.ExecuteSync(std::move(request)));
}

void L2Cache::RunDetached(RedisRequest request, L2Op op) {
  if (!breaker_.allows()) {
    metrics_.Count(op, L2Result::kSkipped);
    return;
  }
  // A member coroutine, not a capturing lambda: the frame must not outlive its captures.
  boost::asio::co_spawn(background_, WriteAsync(std::move(request), op), boost::asio::detached);
}

boost::asio::awaitable<void> L2Cache::WriteAsync(RedisRequest request, L2Op op) {
  Replies r = co_await Run(std::move(request));
  metrics_.Count(op, r && !AnyError(*r) ? L2Result::kOk : L2Result::kError);
}

Result<L2Cache::Versioned> L2Cache::SplitVersioned(const Replies& replies, L2Op op) {
  if (!replies || replies->size() != 1 || !(*replies)[0].is_array() ||
      (*replies)[0].elements.size() != 2) {
    metrics_.Count(op, L2Result::kError);
    return replies ? make_error_code(Errc::kUnavailable) : replies.error();
  }
  const auto& got = (*replies)[0].elements;
  const auto generation = Generation(got[0]);
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

boost::asio::awaitable<Result<L2FactsRead>> L2Cache::ReadFacts(KeyId id) {
  if (!breaker_.allows()) {
    metrics_.Count(L2Op::kReadValidation, L2Result::kSkipped);
    co_return Unavailable();
  }
  const std::string name = keys_.Facts(id);
  RedisRequest request;
  request.Push({"MGET", keys_.Generation(id), name});
  Replies replies = co_await Run(std::move(request));
  auto versioned = SplitVersioned(replies, L2Op::kReadValidation);
  if (!versioned) co_return versioned.error();
  L2FactsRead read;
  read.generation = versioned->generation;
  if (!versioned->entry) co_return read;
  auto entry = sealer_.OpenFacts(name, id, versioned->entry->str);
  if (!entry) {
    metrics_.Count(L2Op::kReadValidation, L2Result::kCorrupt);
    co_return read;  // treated as a miss; the fill overwrites it
  }
  if (entry->generation != read.generation) {
    metrics_.Count(L2Op::kReadValidation, L2Result::kStale);
    co_return read;
  }
  metrics_.Count(L2Op::kReadValidation, L2Result::kHit);
  read.hit = true;
  read.facts = std::move(entry->facts);
  co_return read;
}

void L2Cache::WriteFacts(KeyId id, std::uint64_t generation,
                         std::shared_ptr<const KeyFacts> facts) {
  const std::string name = keys_.Facts(id);
  const TimeMs ttl = facts ? options_.validation_ttl_ms : options_.negative_ttl_ms;
  RedisRequest request;
  request.Push(
      {"SET", name, sealer_.SealFacts(name, generation, facts.get()), "PX", std::to_string(ttl)});
  RunDetached(std::move(request), L2Op::kWriteValidation);
}

Result<L2BlobRead> L2Cache::ReadUserListSync(const std::string& owner) {
  if (!breaker_.allows()) {
    metrics_.Count(L2Op::kReadUserList, L2Result::kSkipped);
    return Unavailable();
  }
  const std::string name = keys_.UserList(owner);
  RedisRequest request;
  request.Push({"MGET", keys_.OwnerGeneration(owner), name});
  Replies replies = RunSync(std::move(request));
  auto versioned = SplitVersioned(replies, L2Op::kReadUserList);
  if (!versioned) return versioned.error();
  L2BlobRead read;
  read.generation = versioned->generation;
  if (!versioned->entry) return read;
  auto entry = sealer_.OpenBlob(name, versioned->entry->str);
  if (!entry || entry->generation != read.generation) {
    metrics_.Count(L2Op::kReadUserList, entry ? L2Result::kStale : L2Result::kCorrupt);
    return read;
  }
  metrics_.Count(L2Op::kReadUserList, L2Result::kHit);
  read.hit = true;
  read.body = std::move(entry->body);
  return read;
}

void L2Cache::WriteUserList(const std::string& owner, std::uint64_t generation, std::string body) {
  const std::string name = keys_.UserList(owner);
  RedisRequest request;
  request.Push({"SET", name, sealer_.SealBlob(name, generation, body), "PX",
                std::to_string(options_.user_list_ttl_ms)});
  RunDetached(std::move(request), L2Op::kWriteUserList);
}

Result<void> L2Cache::InvalidateSync(const InvalidationMessage& m, bool even_if_open) {
  if (!even_if_open && !breaker_.allows()) {
    metrics_.Count(L2Op::kInvalidate, L2Result::kSkipped);
    return Unavailable();
  }
  const std::string generation_ttl = std::to_string(
      std::max(options_.validation_ttl_ms, options_.user_list_ttl_ms) + kGenerationMarginMs);
  RedisRequest request;
  auto bump_owner = [&](const std::string& owner) {
    const std::string gen = keys_.OwnerGeneration(owner);
    request.Push({"INCR", gen});
    request.Push({"PEXPIRE", gen, generation_ttl});
    request.Push({"UNLINK", keys_.UserList(owner)});
  };
  switch (m.kind) {
    case InvalidationMessage::Kind::kKey: {
      const std::string gen = keys_.Generation(m.id);
      request.Push({"INCR", gen});
      request.Push({"PEXPIRE", gen, generation_ttl});
      request.Push({"UNLINK", keys_.Facts(m.id)});
      if (!m.owner.empty()) bump_owner(m.owner);
      break;
    }
    case InvalidationMessage::Kind::kOwner:
      bump_owner(m.owner);
      break;
    case InvalidationMessage::Kind::kType: {
      const std::string pattern = keys_.Pattern(m.type);
      if (!pattern.empty()) {
        if (auto r = ScanAndUnlink(pattern, even_if_open); !r) return r;
      }
      break;
    }
    case InvalidationMessage::Kind::kAll:
      for (CacheType t : {CacheType::kValidation, CacheType::kUserList}) {
        if (auto r = ScanAndUnlink(keys_.Pattern(t), even_if_open); !r) return r;
      }
      break;
  }
  request.Push({"PUBLISH", keys_.Channel(), EncodeInvalidation(m)});
  Replies replies = RunSync(std::move(request), even_if_open);
  const bool ok = replies && !AnyError(*replies);
  metrics_.Count(L2Op::kInvalidate, ok ? L2Result::kOk : L2Result::kError);
  if (!ok) return replies ? make_error_code(Errc::kUnavailable) : replies.error();
  return {};
}

Result<void> L2Cache::ScanEach(const std::string& pattern, bool even_if_open,
                               const std::function<Result<void>(std::vector<RedisReply>&)>& page) {
  std::string cursor = "0";
  for (int round = 0; round < kMaxScanRounds; ++round) {
    RedisRequest scan;
    scan.Push({"SCAN", cursor, "MATCH", pattern, "COUNT", std::to_string(kScanCount)});
    Replies r = RunSync(std::move(scan), even_if_open);
    if (!r || r->size() != 1 || !(*r)[0].is_array() || (*r)[0].elements.size() != 2) {
      metrics_.Count(L2Op::kScan, L2Result::kError);
      return r ? make_error_code(Errc::kUnavailable) : r.error();
    }
    auto& reply = (*r)[0].elements;
    cursor = reply[0].str;
    if (auto done = page(reply[1].elements); !done) return done;
    if (cursor == "0") {
      metrics_.Count(L2Op::kScan, L2Result::kOk);
      return {};
    }
  }
  return make_error_code(Errc::kTimeout);
}

Result<void> L2Cache::ScanAndUnlink(const std::string& pattern, bool even_if_open) {
  return ScanEach(pattern, even_if_open, [&](std::vector<RedisReply>& keys) -> Result<void> {
    if (keys.empty()) return {};
    std::vector<std::string_view> args{"UNLINK"};
    for (const auto& k : keys) args.push_back(k.str);
    RedisRequest unlink;
    unlink.Push(std::span<const std::string_view>(args));
    if (Replies u = RunSync(std::move(unlink), even_if_open); !u) return u.error();
    return {};
  });
}

Result<std::uint64_t> L2Cache::ScanCount(const std::string& pattern) {
  std::uint64_t n = 0;
  auto scanned = ScanEach(pattern, false, [&](std::vector<RedisReply>& keys) -> Result<void> {
    n += keys.size();
    return {};
  });
  if (!scanned) return scanned.error();
  return n;
}

Result<L2Counts> L2Cache::CountSync() {
  L2Counts c;
  auto v = ScanCount(keys_.Pattern(CacheType::kValidation));
  if (!v) return v.error();
  auto u = ScanCount(keys_.Pattern(CacheType::kUserList));
  if (!u) return u.error();
  auto n = ScanCount(keys_.Pattern(CacheType::kUsage));
  if (!n) return n.error();
  c.validation = *v;
  c.user_list = *u;
  c.usage = *n;
  return c;
}

void L2Cache::AddUsage(std::span<const UsageDelta> deltas, TimeMs now) {
  if (deltas.empty()) return;
  const std::int64_t minute = now / 60'000;
  const std::string ttl = std::to_string(options_.usage_ttl_ms + 60'000);
  RedisRequest request;
  for (const UsageDelta& d : deltas) {
    const std::string name = keys_.Usage(d.id, minute);
    request.Push({"INCRBY", name, std::to_string(d.count)});
    request.Push({"PEXPIRE", name, ttl});
  }
  RunDetached(std::move(request), L2Op::kUsage);
}

Result<std::pair<std::uint64_t, std::uint64_t>> L2Cache::RecentUsageSync(KeyId id, TimeMs now) {
  if (!breaker_.allows()) {
    metrics_.Count(L2Op::kUsage, L2Result::kSkipped);
    return Unavailable();
  }
  const std::int64_t minute = now / 60'000;
  RedisRequest request;
  request.Push({"MGET", keys_.Usage(id, minute), keys_.Usage(id, minute - 1)});
  Replies r = RunSync(std::move(request));
  if (!r || r->size() != 1 || (*r)[0].elements.size() != 2) {
    metrics_.Count(L2Op::kUsage, L2Result::kError);
    return r ? make_error_code(Errc::kUnavailable) : r.error();
  }
  const auto current = Generation((*r)[0].elements[0]);
  const auto previous = Generation((*r)[0].elements[1]);
  metrics_.Count(L2Op::kUsage, L2Result::kOk);
  return std::make_pair(current.value_or(0), previous.value_or(0));
}

Result<void> L2Cache::ProbeSync() {
  RedisRequest ping;
  ping.Push({"PING"});
  Replies r = client_.ExecuteSync(std::move(ping));
  const bool ok = r && r->size() == 1 && !(*r)[0].is_error();
  metrics_.Count(L2Op::kProbe, ok ? L2Result::kOk : L2Result::kError);
  if (!ok) return r ? make_error_code(Errc::kUnavailable) : r.error();
  return {};
}

Result<std::int64_t> L2Cache::MemoryUsageSync(const std::string& name) {
  RedisRequest request;
  request.Push({"MEMORY", "USAGE", name});
  Replies r = RunSync(std::move(request));
  if (!r) return r.error();
  if (r->size() != 1 || !(*r)[0].is_integer()) return make_error_code(Errc::kNotFound);
  return (*r)[0].integer;
}

}  // namespace keycache
