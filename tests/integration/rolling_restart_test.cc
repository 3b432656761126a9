// The rolling upgrade of the runbook (docs/operations.md): two keycached instances sharing Redis
// and one database behind a real nginx upstream, a real wrk sending verifications through nginx,
// and each instance restarted in turn (SIGTERM, wait for the exit, start again, wait until nginx
// sends it traffic again). The client must see zero failed requests: no non-2xx answer, no
// socket error.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <iostream>
#include <regex>

#include "integration/integration_util.h"
#include "integration/redis_tier_util.h"
#include "support/child_process.h"
#include "support/free_port.h"
#include "support/redis_config_rewrite.h"

namespace keycache::testing {
namespace {

std::string NginxConfig(const std::filesystem::path& dir, std::uint16_t listen,
                        const std::vector<std::uint16_t>& upstreams) {
  std::string servers;
  for (std::uint16_t p : upstreams) {
    // A refused connection takes the server out for fail_timeout; the request itself is
    // retried on the other server (proxy_next_upstream).
    servers += "    server 127.0.0.1:" + std::to_string(p) + " max_fails=1 fail_timeout=1s;\n";
  }
  const std::string d = dir.string();
  return "daemon off;\nmaster_process off;\nworker_processes 1;\npid " + d +
         "/nginx.pid;\nerror_log " + d + "/error.log warn;\n" +
         "events { worker_connections 1024; }\n"
         "http {\n"
         "  access_log off;\n"
         "  client_body_temp_path " +
         d + "/body;\n  proxy_temp_path " + d +
         "/proxy;\n"
         "  fastcgi_temp_path " +
         d + "/fastcgi;\n  uwsgi_temp_path " + d +
         "/uwsgi;\n"
         "  scgi_temp_path " +
         d +
         "/scgi;\n"
         "  upstream keycached {\n" +
         servers +
         "    keepalive 32;\n"
         "  }\n"
         "  server {\n"
         "    listen 127.0.0.1:" +
         std::to_string(listen) +
         ";\n"
         "    location / {\n"
         "      proxy_pass http://keycached;\n"
         "      proxy_http_version 1.1;\n"
         "      proxy_set_header Connection \"\";\n"
         "      proxy_next_upstream error timeout http_503;\n"
         "      proxy_connect_timeout 2s;\n"
         "      proxy_read_timeout 10s;\n"
         "    }\n"
         "  }\n"
         "}\n";
}

// How many /v1/auth requests the instance's current run has answered (its access log).
int AuthRequestsServed(const KeycachedProcess& p) {
  const std::string log = p.log();
  int n = 0;
  for (std::size_t at = log.find("route=/v1/auth"); at != std::string::npos;
       at = log.find("route=/v1/auth", at + 1)) {
    ++n;
  }
  return n;
}

TEST(RollingRestart, TwoInstancesBehindNginxRestartedInTurnUnderWrkLoseNoRequest) {
  SharedRedisDeployment d;
  ASSERT_TRUE(d.StartRedis());
  // Fixed ports: nginx's upstream names them, and each instance comes back on its own.
  std::vector<KeycachedProcess*> instances;
  std::vector<std::uint16_t> ports;
  for (int i = 0; i < 2; ++i) {
    const std::uint16_t port = FreeLoopbackPort();
    ASSERT_NE(port, 0);
    KeycachedProcess* p = d.AddInstance({{"PORT", std::to_string(port)},
                                         {"KEYCACHE_DRAIN", "1s"},
                                         {"KEYCACHE_SHUTDOWN_GRACE", "5s"}});
    ASSERT_NE(p, nullptr);
    instances.push_back(p);
    ports.push_back(port);
  }
  auto api = SharedRedisDeployment::Client(*instances[0]);
  const CreatedKey k = CreateKey(*api, UniqueOwner("rolling"));
  ASSERT_FALSE(k.key.empty());

  TempDir dir;
  const std::uint16_t front = FreeLoopbackPort();
  ASSERT_NE(front, 0);
  { std::ofstream(dir.path() / "nginx.conf") << NginxConfig(dir.path(), front, ports); }
  ChildProcess nginx(
      {"/usr/sbin/nginx", "-p", dir.path().string(), "-c", (dir.path() / "nginx.conf").string(),
       "-e", (dir.path() / "error.log").string()},
      dir.path() / "nginx.out");
  ASSERT_TRUE(nginx.started());
  ApiClient through(front);
  Reply first;
  ASSERT_TRUE(PollUntil([&] {
    first = Auth(through, k.key);
    return first.status == 200;
  })) << first.Describe()
      << ReadTextFile((dir.path() / "error.log").string())
      << ReadTextFile((dir.path() / "nginx.out").string());

  // wrk runs until interrupted (SIGINT makes it print its summary), with a generous per-request
  // timeout: a slow answer on a loaded machine is not what this test is about.
  ChildProcess wrk(
      {"/usr/bin/wrk", "-t1", "-c8", "-d120s", "--timeout", "10s", "-H", "X-API-Key: " + k.key,
       "http://127.0.0.1:" + std::to_string(front) + "/v1/auth"},
      dir.path() / "wrk.out");
  ASSERT_TRUE(wrk.started());
  // Both instances carry the load before the first restart.
  for (KeycachedProcess* p : instances) {
    ASSERT_TRUE(PollUntil([&] { return AuthRequestsServed(*p) > 20; }, std::chrono::seconds(30)))
        << "no traffic reached port " << p->port();
  }

  for (KeycachedProcess* p : instances) {
    ASSERT_EQ(p->Stop(), 0) << p->log();  // SIGTERM: drain, close, finish, exit
    EXPECT_NE(p->log().find("drain_started"), std::string::npos) << p->log();
    ASSERT_TRUE(p->Start()) << p->log();
    // Back in rotation: nginx sends it verifications again (after fail_timeout).
    ASSERT_TRUE(PollUntil([&] { return AuthRequestsServed(*p) > 20; }, std::chrono::seconds(30)))
        << "nginx sent no traffic to the restarted instance on port " << p->port() << "\n"
        << ReadTextFile((dir.path() / "error.log").string());
  }

  ASSERT_TRUE(wrk.Stop(std::chrono::seconds(30), SIGINT));
  const std::string report = ReadTextFile((dir.path() / "wrk.out").string());
  std::smatch m;
  ASSERT_TRUE(std::regex_search(report, m, std::regex(R"((\d+) requests in)"))) << report;
  EXPECT_GT(std::stol(m[1].str()), 100) << report;
  EXPECT_EQ(report.find("Non-2xx"), std::string::npos) << report;
  EXPECT_EQ(report.find("Socket errors"), std::string::npos) << report;
  std::cout << "wrk through nginx during two rolling restarts:\n" << report;
  EXPECT_EQ(ReadTextFile((dir.path() / "error.log").string()).find("no live upstreams"),
            std::string::npos)
      << ReadTextFile((dir.path() / "error.log").string());
}

}  // namespace
}  // namespace keycache::testing
