// failover_probe: a steady trickle of requests to one keycached instance while a fault is
// injected, one line per request on stdout: "<ms since the Unix epoch> <kind> <status>
// <latency ms>", kind `c` (POST /v1/keys: a key for a new owner), `w` (POST /v1/keys/{id}/revoke
// of that key: a change that bumps the key's generation on its Redis Cluster slot and waits for
// the fence, so these spread over the shards) or `r` (GET /v1/auth of a key read from --keys, in
// turn). Status 0 is a transport error or the 3 s timeout. Runs until SIGTERM/SIGINT or --seconds;
// the scripts (bench/cluster_bench.sh) date the failure window from these lines.
//
//   failover_probe --port P --token ADMIN_TOKEN --keys FILE [--interval-ms 10] [--seconds 3600]
#include <boost/json/parse.hpp>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "http/http_client.h"

namespace http = boost::beast::http;
using keycache::HttpClient;

namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

long long NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  unsigned port = 0, interval_ms = 10, seconds = 3600;
  std::string token, keys_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--port"))
      port = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--token"))
      token = argv[i + 1];
    else if (!std::strcmp(argv[i], "--keys"))
      keys_path = argv[i + 1];
    else if (!std::strcmp(argv[i], "--interval-ms"))
      interval_ms = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--seconds"))
      seconds = std::stoul(argv[i + 1]);
  }
  std::vector<std::string> keys;
  if (std::ifstream in(keys_path); in) {
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) keys.push_back(line);
    }
  }
  if (!port || token.empty() || keys.empty()) {
    std::fprintf(stderr,
                 "usage: failover_probe --port P --token T --keys FILE [--interval-ms 10] "
                 "[--seconds 3600]\n");
    return 2;
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  HttpClient writer("127.0.0.1", port), reader("127.0.0.1", port);
  const HttpClient::Headers admin{{"Authorization", "Bearer " + token},
                                  {"Content-Type", "application/json"}};
  const std::string run = std::to_string(NowMs());
  const long long end = NowMs() + 1000LL * seconds;
  auto report = [](char kind, long long start, const auto& r) {
    std::printf("%lld %c %u %lld\n", start, kind, r ? r->status : 0u, NowMs() - start);
    std::fflush(stdout);
  };
  for (std::size_t i = 0; !g_stop && NowMs() < end; ++i) {
    long long t = NowMs();
    auto w = writer.Send(
        http::verb::post, "/v1/keys",
        R"({"owner_id":"probe-)" + run + "-" + std::to_string(i) + R"(","name":"p","scopes":[]})",
        admin, std::chrono::seconds(3));
    report('c', t, w);
    if (w && w->status == 201) {
      boost::system::error_code ec;
      const auto v = boost::json::parse(w->body, ec);
      const auto* id = !ec && v.is_object() ? v.as_object().if_contains("id") : nullptr;
      if (id && id->is_string()) {
        t = NowMs();
        auto revoked =
            writer.Send(http::verb::post, "/v1/keys/" + std::string(id->as_string()) + "/revoke",
                        "{}", admin, std::chrono::seconds(3));
        report('w', t, revoked);
      }
    }
    t = NowMs();
    auto r = reader.Send(http::verb::get, "/v1/auth", {}, {{"X-API-Key", keys[i % keys.size()]}},
                         std::chrono::seconds(3));
    report('r', t, r);
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
  return 0;
}
