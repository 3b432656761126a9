// propagation_bench: revocation propagation between two keycached instances that share a Redis
// (or, without Redis, a PostgreSQL database: LISTEN/NOTIFY, bench/pg_notify_bench.sh).
// For each of N keys: create it on A, verify it on B until B answers from its L1 (X-Cache-Status
// HIT), revoke it on A, then poll B as fast as one connection allows until B refuses the key.
// Prints p50/p90/p99/max of the time from A's revoke answer to B's first refusal (an upper bound
// of the true propagation: it includes one verification round trip), and B's own histogram of
// the lag measured from A's publication stamp (keycache_invalidation_propagation_seconds, or
// keycache_invalidation_propagation_pg_seconds for the PostgreSQL channel).
//
//   propagation_bench --a PORT --b PORT --token ADMIN_TOKEN [--count 250]
#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "http/http_client.h"

namespace http = boost::beast::http;
using keycache::HttpClient;
using Clock = std::chrono::steady_clock;

namespace {

std::string Field(const std::string& body, const char* name) {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return {};
  const auto* f = v.as_object().if_contains(name);
  return f && f->is_string() ? std::string(f->as_string()) : std::string();
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(q * (v.size() - 1) + 0.5));
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  unsigned port_a = 0, port_b = 0, count = 250;
  std::string token;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--a"))
      port_a = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--b"))
      port_b = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--token"))
      token = argv[i + 1];
    else if (!std::strcmp(argv[i], "--count"))
      count = std::stoul(argv[i + 1]);
  }
  if (!port_a || !port_b || token.empty() || count < 1) {
    std::fprintf(stderr, "usage: propagation_bench --a PORT --b PORT --token T [--count N]\n");
    return 2;
  }
  HttpClient a("127.0.0.1", port_a), b("127.0.0.1", port_b);
  const HttpClient::Headers admin{{"Authorization", "Bearer " + token},
                                  {"Content-Type", "application/json"}};
  std::vector<double> lag_ms;
  unsigned polls = 0;
  for (unsigned i = 0; i < count; ++i) {
    auto created = a.Send(
        http::verb::post, "/v1/keys",
        R"({"owner_id":"prop-bench-)" + std::to_string(i % 50) + R"(","name":"k","scopes":[]})",
        admin);
    if (!created || created->status != 201) {
      std::fprintf(stderr, "create failed: %s\n",
                   created ? (std::to_string(created->status) + " " + created->body).c_str()
                           : created.error().message().c_str());
      return 1;
    }
    const std::string key = Field(created->body, "key");
    const std::string id = Field(created->body, "id");
    const std::string verify = R"({"key":")" + key + R"("})";
    for (int tries = 0;; ++tries) {
      auto v = b.Send(http::verb::post, "/v1/keys/verify", verify);
      if (v && v->status == 200 && v->headers["X-Cache-Status"] == "HIT") break;
      if (tries > 100) {
        std::fprintf(stderr, "B never cached the key\n");
        return 1;
      }
    }
    auto revoked = a.Send(http::verb::post, "/v1/keys/" + id + "/revoke", "{}", admin);
    const auto t0 = Clock::now();
    if (!revoked || revoked->status != 200) {
      std::fprintf(stderr, "revoke failed\n");
      return 1;
    }
    for (;;) {
      auto v = b.Send(http::verb::post, "/v1/keys/verify", verify);
      ++polls;
      if (v && Field(v->body, "code") == "REVOKED") break;
      if (Clock::now() - t0 > std::chrono::seconds(10)) {
        std::fprintf(stderr, "B still accepts a key revoked 10 s ago\n");
        return 1;
      }
    }
    lag_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::printf("revocations: %zu (B polled %u times in all)\n", lag_ms.size(), polls);
  std::printf("A's revoke answered -> B refuses (client-observed, includes one verify RTT):\n");
  std::printf("  p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms\n", Percentile(lag_ms, 0.5),
              Percentile(lag_ms, 0.9), Percentile(lag_ms, 0.99), Percentile(lag_ms, 1.0));
  auto health = b.Send(http::verb::get, "/health/cache");
  if (health) {
    boost::system::error_code ec;
    auto v = boost::json::parse(health->body, ec);
    const bool pg = !ec && v.find_pointer("/cache/postgresChannel", ec) != nullptr;
    ec = {};
    const boost::json::value* found = v.find_pointer(
        pg ? "/cache/postgresChannel/propagationLag" : "/cache/redis/propagationLag", ec);
    const auto* lag = found && !ec ? found->if_object() : nullptr;
    if (lag) {
      std::printf("B's %s (publication stamp -> applied):\n",
                  pg ? "keycache_invalidation_propagation_pg_seconds"
                     : "keycache_invalidation_propagation_seconds");
      std::printf("  samples %s  p50 <= %s s  p99 <= %s s (bucket upper bounds)\n",
                  boost::json::serialize(lag->at("samples")).c_str(),
                  boost::json::serialize(lag->at("p50Seconds")).c_str(),
                  boost::json::serialize(lag->at("p99Seconds")).c_str());
    }
  }
  return 0;
}
