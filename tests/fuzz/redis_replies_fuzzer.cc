// Fuzzes the Redis client and the L2 layer with arbitrary replies. A FakeRedis (fake_redis.h)
// answers the client's commands from a script drawn from the input: well-formed replies of any
// type (errors, nil, integers, nested arrays, wrong types), correctly sealed entries, garbage,
// a close or silence; the subscriber's connection gets pushes from the input. Each input drives
// a fresh RedisClient + L2Cache through every command they send, and a fresh RedisSubscriber.
// Properties: no crash; no hang (every call returns within its bounds: command timeouts are
// 50 ms); results are values; no connection or subscriber loop dies of an exception; an entry
// that L2 serves is one the fake server sealed for that very key.
#include <fuzzer/FuzzedDataProvider.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fuzz/fake_redis.h"
#include "fuzz/fuzz_check.h"
#include "l2/invalidation_message.h"
#include "l2/l2_cache.h"
#include "metrics/registry.h"
#include "redis/redis_client.h"
#include "redis/redis_subscriber.h"

namespace keycache::fuzz {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Far above what any call needs (50 ms command timeouts): fuzz jobs run at nice 19 beside
// builds, where a thread can wait a second for a core. libFuzzer's -timeout (10 s per input)
// is the hang detector for the whole input.
constexpr auto kBound = 4s;
constexpr TimeMs kNow = 1'700'000'000'000;

// One event loop on its own thread, run until the process ends.
class IoThread {
 public:
  IoThread() : guard_(ioc_.get_executor()), thread_([this] { ioc_.run(); }) {}
  asio::any_io_executor executor() { return ioc_.get_executor(); }
  // Returns once everything posted before (and `rounds` hops of what that posts) has run.
  void Drain(int rounds = 4) {
    for (int i = 0; i < rounds; ++i) {
      std::promise<void> done;
      asio::post(ioc_, [&done] { done.set_value(); });
      done.get_future().wait();
    }
  }

 private:
  asio::io_context ioc_{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
};

struct Harness {
  Harness()
      : log(std::tmpfile()), logger(LogLevel::kError, log), metrics(registry), redis(sealer) {}
  std::string NewLogLines() {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::pread(::fileno(log), buf, sizeof buf, static_cast<off_t>(log_read))) > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      log_read += static_cast<std::size_t>(n);
    }
    return out;
  }

  std::FILE* log;
  std::size_t log_read = 0;
  Logger logger;
  Registry registry;
  L2Metrics metrics;
  const EntrySealer sealer{"fuzz pepper: at least thirty-two bytes long"};
  FakeRedis redis;
  IoThread io;          // the client's connection and L2's background writes
  IoThread subscriber;  // the subscriber's connection
};

Harness& TheHarness() {
  static Harness* harness = new Harness();  // immortal: its threads never end
  return *harness;
}

// ---- The input: operations and the fake server's script ----

enum class OpKind : std::uint8_t {
  kReadFacts,
  kWriteFacts,
  kReadUserList,
  kWriteUserList,
  kInvalidateKey,
  kInvalidateOwner,
  kInvalidateType,
  kInvalidateAll,
  kReplay,
  kAddUsage,
  kRecentUsage,
  kCount,
  kProbe,
  kMemoryUsage,
  kLast = kMemoryUsage,
};

struct Op {
  OpKind kind;
  KeyId id;
  std::string owner;
  std::uint64_t generation;
  bool missing;
};

struct Input {
  int breaker_failures = 1;
  std::vector<Op> ops;
  Script script;
};

std::string Bulk(std::string_view s) {
  return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

std::string Line(FuzzedDataProvider& p, std::size_t max) {
  std::string s = p.ConsumeRandomLengthString(max);
  std::erase_if(s, [](char c) { return c == '\r' || c == '\n'; });
  return s;
}

// A well-formed RESP reply of any type.
std::string ConsumeReply(FuzzedDataProvider& p, int depth) {
  static constexpr std::array<const char*, 6> kErrors = {
      "ERR fuzz",
      "WRONGTYPE Operation against a key holding the wrong kind of value",
      "NOAUTH Authentication required.",
      "OOM command not allowed",
      "LOADING Redis is loading",
      "MOVED 1 127.0.0.1:1"};
  switch (p.ConsumeIntegralInRange(0, 9)) {
    case 0:
      return "$-1\r\n";
    case 1:
      return "*-1\r\n";
    case 2:
      return Bulk(p.ConsumeRandomLengthString(48));
    case 3:
      return Bulk(std::to_string(p.ConsumeIntegral<std::int64_t>()));  // a counter as a string
    case 4:
      return "+" + Line(p, 24) + "\r\n";
    case 5:
      return "-" + (p.ConsumeBool() ? std::string(p.PickValueInArray(kErrors)) : Line(p, 24)) +
             "\r\n";
    case 6:
      return ":" + std::to_string(p.ConsumeIntegral<std::int64_t>()) + "\r\n";
    case 7: {  // a SCAN page: [cursor, [names]]
      std::string out =
          "*2\r\n" +
          Bulk(p.ConsumeBool() ? "0" : std::to_string(p.ConsumeIntegral<std::uint16_t>()));
      const int n = p.ConsumeIntegralInRange(0, 3);
      out += "*" + std::to_string(n) + "\r\n";
      for (int i = 0; i < n; ++i) out += Bulk("fz:v:{" + Line(p, 11) + "}");
      return out;
    }
    default: {
      const int n = depth >= 3 ? 0 : p.ConsumeIntegralInRange(0, 4);
      std::string out = "*" + std::to_string(n) + "\r\n";
      for (int i = 0; i < n; ++i) out += ConsumeReply(p, depth + 1);
      return out;
    }
  }
}

Action ConsumeAction(FuzzedDataProvider& p, bool& silence_used) {
  Action a;
  switch (p.ConsumeIntegralInRange(0, 15)) {
    case 0:  // bytes that may not be RESP at all
      a.bytes = p.ConsumeRandomLengthString(32);
      break;
    case 1:
      a.kind = Action::Kind::kClose;
      break;
    case 2:
      a.kind = silence_used ? Action::Kind::kClose : Action::Kind::kSilence;
      silence_used = true;
      break;
    case 3:
    case 4:
      a.kind = p.ConsumeBool() ? Action::Kind::kSealedFacts : Action::Kind::kSealedBlob;
      a.counter = p.ConsumeIntegralInRange<std::uint64_t>(0, 3);
      a.sealed_under = p.ConsumeBool() ? a.counter : p.ConsumeIntegralInRange<std::uint64_t>(0, 3);
      a.missing = p.ConsumeBool();
      a.wrong_name = p.ConsumeIntegralInRange(0, 3) == 0;
      a.body = p.ConsumeRandomLengthString(32);
      break;
    default:
      a.bytes = ConsumeReply(p, 0);
  }
  return a;
}

Action ConsumePush(FuzzedDataProvider& p) {
  Action a;
  switch (p.ConsumeIntegralInRange(0, 5)) {
    case 0:
      a.bytes = "*3\r\n" + Bulk("subscribe") + Bulk(kChannel) + ":1\r\n";
      break;
    case 1:
    case 2: {
      InvalidationMessage m;
      m.source = Line(p, 8);
      m.heartbeat = p.ConsumeBool();
      m.heartbeat_seq = p.ConsumeIntegral<std::uint8_t>();
      m.change.kind = static_cast<CacheChange::Kind>(p.ConsumeIntegralInRange(0, 3));
      m.change.id = p.ConsumeIntegral<std::uint8_t>();
      m.change.owner = Line(p, 8);
      const std::string payload =
          p.ConsumeBool() ? EncodeInvalidation(m) : p.ConsumeRandomLengthString(48);
      a.bytes = "*3\r\n" + Bulk("message") + Bulk(kChannel) + Bulk(payload);
      break;
    }
    case 3:
      a.kind = p.ConsumeBool() ? Action::Kind::kClose : Action::Kind::kBytes;
      a.bytes = p.ConsumeRandomLengthString(16);
      break;
    default:
      a.bytes = ConsumeReply(p, 0);
  }
  return a;
}

Input ConsumeInput(FuzzedDataProvider& p) {
  Input in;
  in.breaker_failures = p.ConsumeIntegralInRange(1, 4);
  in.script.fuzz_handshake = p.ConsumeBool();
  const int ops = p.ConsumeIntegralInRange(1, 8);
  for (int i = 0; i < ops; ++i) {
    Op op;
    op.kind =
        static_cast<OpKind>(p.ConsumeIntegralInRange<int>(0, static_cast<int>(OpKind::kLast)));
    op.id = p.ConsumeIntegral<std::uint8_t>();
    op.owner = p.ConsumeBool() ? "alice" : Line(p, 12);
    op.generation = p.ConsumeIntegralInRange<std::uint64_t>(0, 3);
    op.missing = p.ConsumeBool();
    in.ops.push_back(std::move(op));
  }
  const int pushes = p.ConsumeIntegralInRange(0, 6);
  for (int i = 0; i < pushes; ++i) in.script.pushes.push_back(ConsumePush(p));
  bool silence_used = false;
  while (p.remaining_bytes() > 0 && in.script.replies.size() < 64) {
    in.script.replies.push_back(ConsumeAction(p, silence_used));
  }
  return in;
}

// ---- Driving the tier ----

template <class T>
T Await(asio::any_io_executor ex, asio::awaitable<T> task) {
  auto future = asio::co_spawn(ex, std::move(task), asio::use_future);
  FUZZ_CHECK(future.wait_for(kBound) == std::future_status::ready);
  return future.get();
}

void WaitConnected(const RedisClient& client) {
  // Only the first handshake of an input may be refused, so reconnecting always succeeds.
  const auto deadline = Clock::now() + kBound;
  while (!client.connected()) {
    FUZZ_CHECK(Clock::now() < deadline);
    std::this_thread::sleep_for(50us);
  }
}

RedisOptions Options(std::string name) {
  RedisOptions o;
  o.host = "127.0.0.1";
  o.port = TheHarness().redis.port();
  o.pool_size = 1;
  o.connect_timeout = 50ms;
  o.command_timeout = 50ms;
  o.max_retries = 1;
  o.reconnect_min = 1ms;
  o.reconnect_max = 4ms;
  o.client_name = std::move(name);
  return o;
}

// Every call into L2Cache and RedisSubscriber is made here, so that a change of their API
// (the lead is reshaping ReadFacts' answer, invalidation kinds and write failures) is adapted
// in one place.
void Drive(const Input& in, Harness& h, RedisClient& client) {
  CircuitBreaker breaker(in.breaker_failures);
  CoherenceLease lease(std::chrono::hours(1));
  lease.Renew(CoherenceLease::Clock::now());  // as a heard heartbeat would
  L2Cache l2(client, breaker, lease, L2Keys("fz:"), h.sealer, L2Options{}, h.metrics,
             h.io.executor());
  // A subscriber only when the input has pushes for it: subscribing costs a connection.
  std::atomic<bool> sentinel{false};
  std::optional<RedisSubscriber> subscriber;
  if (!in.script.pushes.empty()) {
    RedisSubscriber::Handlers handlers;
    handlers.on_message = [&sentinel](std::string_view payload) {
      if (payload == kSentinel) sentinel = true;
      (void)DecodeInvalidation(payload);
    };
    handlers.on_anomaly = [](std::string_view what) { FUZZ_CHECK(!what.empty()); };
    subscriber.emplace(h.subscriber.executor(), Options("fuzz-sub"), std::string(kChannel),
                       std::move(handlers), h.logger, 20ms);
    subscriber->Start();
  }

  int hits = 0;  // entries L2 served
  for (const Op& op : in.ops) {
    WaitConnected(client);
    const auto started = Clock::now();
    auto facts = std::make_shared<KeyFacts>();
    facts->id = op.id;
    facts->owner_id = op.owner;
    InvalidationMessage m;
    m.source = "fuzz";
    switch (op.kind) {
      case OpKind::kReadFacts: {
        const SharedRead<FactsAnswer> r = Await(h.io.executor(), l2.ReadFacts(op.id));
        // A hit is facts for this very id, or "no such key"; never anything else.
        FUZZ_CHECK(!r.hit() || !r.value().found() || r.value().facts().id == op.id);
        hits += r.hit();
        break;
      }
      case OpKind::kWriteFacts:
        l2.WriteFacts(op.id, op.generation,
                      op.missing ? FactsAnswer::Absent() : FactsAnswer::Found(facts));
        break;
      case OpKind::kReadUserList: {
        const SharedRead<std::string> r = Await(h.io.executor(), l2.ReadUserList(op.owner));
        hits += r.hit();
        break;
      }
      case OpKind::kWriteUserList:
        l2.WriteUserList(op.owner, op.generation, "[]");
        break;
      case OpKind::kInvalidateKey:
      case OpKind::kInvalidateOwner:
      case OpKind::kInvalidateType:
      case OpKind::kInvalidateAll:
      case OpKind::kReplay:
        m.change.kind =
            op.kind == OpKind::kReplay
                ? static_cast<CacheChange::Kind>(op.generation)
                : static_cast<CacheChange::Kind>(static_cast<int>(op.kind) -
                                                 static_cast<int>(OpKind::kInvalidateKey));
        m.change.id = op.id;
        m.change.owner = op.owner;
        m.change.type = static_cast<CacheType>(op.id % 4);
        (void)Await(h.io.executor(), l2.Fence(m, op.kind == OpKind::kReplay));
        break;
      case OpKind::kAddUsage: {
        const UsageDelta delta{op.id, op.generation + 1, kNow, "127.0.0.1"};
        l2.AddUsage({&delta, 1}, kNow);
        break;
      }
      case OpKind::kRecentUsage:
        (void)Await(h.io.executor(), l2.ReadRecentUsage(op.id, kNow));
        break;
      case OpKind::kCount:
        (void)Await(h.io.executor(), l2.Count());
        break;
      case OpKind::kProbe:  // the heartbeat: the same fence, through an open breaker
        m.heartbeat = true;
        m.heartbeat_seq = op.generation;
        (void)Await(h.io.executor(), l2.Fence(m, /*even_if_open=*/true));
        break;
      case OpKind::kMemoryUsage:
        (void)Await(h.io.executor(), l2.MemoryUsage(l2.keys().Facts(op.id)));
        break;
    }
    FUZZ_CHECK(Clock::now() - started < kBound);
  }
  // Only an entry sealed for the key it was read under, current by its generation, is served.
  FUZZ_CHECK(hits <= h.redis.servable_entries());

  // The pushes end with a sentinel; a push that broke the stream makes the subscriber
  // reconnect, and the next subscription carries the sentinel alone.
  const auto deadline = Clock::now() + 1s;
  while (subscriber && !sentinel && Clock::now() < deadline) std::this_thread::sleep_for(50us);
  const auto stopping = Clock::now();
  if (subscriber) subscriber->Stop();
  client.Stop();
  FUZZ_CHECK(Clock::now() - stopping < kBound);
  h.io.Drain();  // fire-and-forget writes still hold `l2`
  h.subscriber.Drain();
}

}  // namespace
}  // namespace keycache::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace keycache::fuzz;
  Harness& h = TheHarness();
  FuzzedDataProvider provider(data, size);
  const Input input = ConsumeInput(provider);
  h.redis.SetScript(input.script);  // a copy: Drive reads the pushes too
  {
    keycache::RedisClient client({h.io.executor()}, Options("fuzz-client"), h.logger);
    client.Start();
    Drive(input, h, client);
  }
  const std::string log = h.NewLogLines();
  if (log.find("crashed") != std::string::npos) {
    std::fprintf(stderr, "%s", log.c_str());
    FUZZ_CHECK(!"a Redis connection or subscriber loop ended with an exception");
  }
  return 0;
}
