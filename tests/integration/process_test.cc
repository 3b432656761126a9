// Process-level behaviour of keycached: graceful restart, generated secrets, .env, bad
// configuration, and the client address behind trusted proxies.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "integration/integration_util.h"

namespace keycache::testing {
namespace {

unsigned Mode(const std::filesystem::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

std::string FirstLine(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::string line;
  std::getline(in, line);
  return line;
}

TEST(IntegProcess, GracefulRestartKeepsUsageExact) {
  // No periodic flush: only the shutdown flush can carry the counts over.
  KeycachedProcess server({{{"KEYCACHE_USAGE_FLUSH_INTERVAL", "1h"}}, std::nullopt});
  ASSERT_TRUE(server.Start());
  ApiClient api(server.port(), server.admin_token());
  const CreatedKey k = CreateKey(api, UniqueOwner("restart"));
  constexpr int kValid = 7;
  for (int i = 0; i < kValid; ++i) ASSERT_EQ(Verify(api, k.key).Str("code"), "VALID");
  ASSERT_EQ(RequestCount(api, k.id), kValid);

  ASSERT_EQ(server.Stop(), 0) << server.log();
  EXPECT_NE(server.log().find("stopped"), std::string::npos) << server.log();
  ASSERT_TRUE(server.Start());
  ApiClient again(server.port(), server.admin_token());
  EXPECT_EQ(RequestCount(again, k.id), kValid) << "usage lost or doubled across a restart";
  const Reply usage = again.Admin(http::verb::get, "/v1/keys/" + k.id + "/usage");
  EXPECT_EQ(usage.Str("last_used_ip"), "127.0.0.1") << usage.Describe();
  const Reply record = again.Admin(http::verb::get, "/v1/keys/" + k.id);
  EXPECT_EQ(record.Object().at("usage_count"), kValid) << record.Describe();

  ASSERT_EQ(Verify(again, k.key).Str("code"), "VALID");
  EXPECT_EQ(RequestCount(again, k.id), kValid + 1);
  ExpectCleanStop(server);
}

// The nice value of each of the process's threads, from /proc/<pid>/task/<tid>/stat.
std::vector<int> ThreadNiceValues(pid_t pid) {
  std::vector<int> values;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks)) {
    std::ifstream in(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::size_t close = stat.rfind(')');  // the name may hold spaces and parentheses
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::vector<std::string> f{std::istream_iterator<std::string>(fields), {}};
    if (f.size() > 16) values.push_back(std::stoi(f[16]));  // field 19 of stat(5): nice
  }
  return values;
}

TEST(IntegProcess, TheUsageFlushRunsOnOneThreadAtTheConfiguredNiceValue) {
  const int own = ::getpriority(PRIO_PROCESS, 0);
  const int wanted = std::min(19, own + 7);
  KeycachedProcess server({{{"KEYCACHE_BACKGROUND_NICE", std::to_string(wanted)},
                            {"KEYCACHE_USAGE_FLUSH_INTERVAL", "50ms"}},
                           std::nullopt});
  ASSERT_TRUE(server.Start());
  const std::vector<int> nice = ThreadNiceValues(server.pid());
  ASSERT_GT(nice.size(), 2u);
  auto threads_at = [&nice](int value) {
    return static_cast<std::size_t>(std::count(nice.begin(), nice.end(), value));
  };
  if (wanted == own) {  // already at the lowest priority: nothing to tell apart
    EXPECT_EQ(threads_at(own), nice.size());
  } else {
    EXPECT_EQ(threads_at(wanted), 1u) << "one thread (the background lane) at nice " << wanted;
    EXPECT_EQ(threads_at(own), nice.size() - 1);
  }

  // The lowered thread still writes usage.
  ApiClient api(server.port(), server.admin_token());
  const CreatedKey k = CreateKey(api, UniqueOwner("nice"));
  ASSERT_EQ(Verify(api, k.key).Str("code"), "VALID");
  EXPECT_TRUE(PollUntil([&] { return RequestCount(api, k.id) == 1; }));
  EXPECT_EQ(server.log().find("background_priority_unchanged"), std::string::npos) << server.log();
  ExpectCleanStop(server);
}

TEST(IntegProcess, ShutdownDoesNotWaitForeverOnIdleOrHalfSentConnections) {
  KeycachedProcess server({{{"KEYCACHE_SHUTDOWN_GRACE", "1s"}}, std::nullopt});
  ASSERT_TRUE(server.Start());
  namespace asio = boost::asio;
  asio::io_context ioc;
  const asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), server.port());
  // One idle keep-alive connection, one stuck in the middle of its request headers.
  ApiClient idle(server.port());
  ASSERT_EQ(idle.Send(http::verb::get, "/health/live").status, 200u);
  asio::ip::tcp::socket half(ioc);
  half.connect(endpoint);
  asio::write(half, asio::buffer(std::string("POST /v1/keys/verify HTTP/1.1\r\nHost: t\r\n")));

  EXPECT_EQ(server.Stop(30s), 0) << "SIGTERM with open connections; log:\n" << server.log();
  EXPECT_NE(server.log().find("stopped"), std::string::npos) << server.log();

  ASSERT_TRUE(server.Start());
  ASSERT_EQ(ApiClient(server.port()).Send(http::verb::get, "/health/ready").status, 200u);
  EXPECT_EQ(server.Stop(30s, SIGINT), 0) << "SIGINT; log:\n" << server.log();
}

TEST(IntegProcess, SecretsAreGeneratedPrivateAndReusedAfterARestart) {
  KeycachedProcess server;
  ASSERT_TRUE(server.Start());
  const auto dir = server.data_dir();
  EXPECT_EQ(Mode(dir / "admin-token"), 0600u);
  EXPECT_EQ(Mode(dir / "pepper"), 0600u);
  EXPECT_EQ(Mode(dir), 0700u);
  const std::string token = FirstLine(dir / "admin-token");
  const std::string pepper = FirstLine(dir / "pepper");
  EXPECT_GE(token.size(), 16u);
  EXPECT_GE(pepper.size(), 32u);
  std::string log = server.log();
  EXPECT_NE(log.find("secret_generated"), std::string::npos) << log;
  EXPECT_NE(log.find("var/admin-token"), std::string::npos) << "names the file: " << log;
  EXPECT_NE(log.find("var/pepper"), std::string::npos) << "names the file: " << log;
  EXPECT_EQ(log.find(token), std::string::npos) << "the log shows the admin token";
  EXPECT_EQ(log.find(pepper), std::string::npos) << "the log shows the pepper";

  ApiClient api(server.port(), token);
  const CreatedKey k = CreateKey(api, UniqueOwner("secrets"), {"reports:read"});
  ASSERT_EQ(server.Stop(), 0) << server.log();

  ASSERT_TRUE(server.Start());
  EXPECT_EQ(FirstLine(dir / "admin-token"), token);
  EXPECT_EQ(FirstLine(dir / "pepper"), pepper);
  log = server.log();
  EXPECT_NE(log.find("secret_loaded"), std::string::npos) << log;
  EXPECT_EQ(log.find("secret_generated"), std::string::npos) << log;
  EXPECT_EQ(log.find(token), std::string::npos) << "the log shows the admin token";

  ApiClient after(server.port(), token);
  EXPECT_EQ(Verify(after, k.key, {"reports:read"}).Str("code"), "VALID")
      << "a key from before the restart must still verify";
  EXPECT_EQ(after.Admin(http::verb::get, "/v1/keys/" + k.id).status, 200u);
  ExpectCleanStop(server);
}

// docs/operations.md, "Rotating the admin token": the token is read at start-up from
// ADMIN_TOKEN_FILE (or the generated var/admin-token), so a new file and a restart rotate it;
// API keys are not affected.
TEST(IntegProcess, TheAdminTokenRotatesThroughItsFileAndARestart) {
  TempDir secrets;
  const std::filesystem::path file = secrets.path() / "admin-token";
  const auto write_token = [&](const std::string& token) {
    std::ofstream(file, std::ios::trunc) << token << "\n";
    std::filesystem::permissions(
        file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  };
  const std::string old_token = "rotation-old-token-0123456789abcdef";
  const std::string new_token = "rotation-new-token-fedcba9876543210";
  write_token(old_token);
  KeycachedProcess server(KeycachedOptions{{{"ADMIN_TOKEN_FILE", file.string()}}, std::nullopt});
  ASSERT_TRUE(server.Start());
  const CreatedKey k = [&] {
    ApiClient api(server.port(), old_token);
    return CreateKey(api, UniqueOwner("rotation"));
  }();
  write_token(new_token);  // read at start-up only: the running instance keeps the old one
  {
    ApiClient old_api(server.port(), old_token);
    ApiClient new_api(server.port(), new_token);
    EXPECT_EQ(old_api.Admin(http::verb::get, "/v1/keys/" + k.id).status, 200u);
    EXPECT_EQ(new_api.Admin(http::verb::get, "/v1/keys/" + k.id).status, 401u);
  }
  ExpectCleanStop(server);
  ASSERT_TRUE(server.Start());
  ApiClient old_api(server.port(), old_token);
  ApiClient new_api(server.port(), new_token);
  EXPECT_EQ(old_api.Admin(http::verb::get, "/v1/keys/" + k.id).status, 401u);
  EXPECT_EQ(new_api.Admin(http::verb::get, "/v1/keys/" + k.id).status, 200u);
  EXPECT_EQ(Verify(new_api, k.key).Str("code"), "VALID") << "API keys outlive the rotation";
  const std::string log = server.log();
  EXPECT_EQ(log.find(new_token), std::string::npos) << "the log shows the admin token";
  ExpectCleanStop(server);

  // The embedded setup's generated token: delete it and restart, and a new one replaces it.
  KeycachedProcess generated;
  ASSERT_TRUE(generated.Start());
  const std::string first = generated.admin_token();
  ExpectCleanStop(generated);
  std::filesystem::remove(generated.data_dir() / "admin-token");
  ASSERT_TRUE(generated.Start());
  const std::string second = generated.admin_token();
  EXPECT_NE(second, first);
  EXPECT_EQ(Mode(generated.data_dir() / "admin-token"), 0600u);
  ApiClient stale(generated.port(), first);
  ApiClient fresh(generated.port(), second);
  EXPECT_EQ(stale.Admin(http::verb::get, "/v1/keys/kc_nothing").status, 401u);
  EXPECT_EQ(fresh.Admin(http::verb::get, "/v1/keys/kc_nothing").status / 100, 4u);
  EXPECT_NE(fresh.Admin(http::verb::get, "/v1/keys/kc_nothing").status, 401u);
  ExpectCleanStop(generated);
}

TEST(IntegProcess, DotEnvIsReadAndTheRealEnvironmentWins) {
  const std::string token = "dotenv-admin-token-0123456789";
  KeycachedOptions options;
  options.env = {{"KEYCACHE_KEY_PREFIX", "realenv"}};
  options.dotenv =
      "# keycache settings\n"
      "ADMIN_TOKEN=" +
      token +
      "\n"
      "export KEYCACHE_MAX_KEYS_PER_OWNER=1\n"
      "KEYCACHE_KEY_PREFIX=fromdotenv\n";
  KeycachedProcess server(options);
  ASSERT_TRUE(server.Start());
  EXPECT_FALSE(std::filesystem::exists(server.data_dir() / "admin-token"))
      << "ADMIN_TOKEN from .env must be used, not generated";

  ApiClient api(server.port(), token);
  const std::string owner = UniqueOwner("dotenv");
  const CreatedKey k = CreateKey(api, owner);
  EXPECT_EQ(k.key.rfind("realenv_", 0), 0u) << "the real environment wins over .env: " << k.key;
  EXPECT_EQ(Verify(api, k.key).Str("code"), "VALID");
  EXPECT_EQ(Verify(api, "ak" + k.key.substr(7)).Str("code"), "MALFORMED") << "another prefix";
  const Reply second =
      api.Admin(http::verb::post, "/v1/keys",
                ToJson(boost::json::object{
                    {"owner_id", owner}, {"name", "n"}, {"scopes", boost::json::array()}}));
  EXPECT_EQ(second.status, 409u) << "KEYCACHE_MAX_KEYS_PER_OWNER=1 from .env: "
                                 << second.Describe();
  ExpectCleanStop(server);
}

struct BadConfig {
  const char* name;
  EnvVars env;
  std::vector<std::string> named;  // variables the message must name
  std::string secret;              // a value that must not be echoed ("" = none)
};

void PrintTo(const BadConfig& config, std::ostream* os) { *os << config.name; }

class BadConfiguration : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadConfiguration, ExitsNonZeroNamingTheVariable) {
  TempDir dir;
  EnvVars env = DefaultServerEnv();
  for (const auto& [k, v] : GetParam().env) env[k] = v;
  const RunResult r = RunKeycached({"serve"}, env, dir.path(), 20s);
  ASSERT_FALSE(r.timed_out) << "keycached kept running with a bad configuration:\n" << r.err;
  EXPECT_NE(r.exit_code, 0);
  EXPECT_GT(r.exit_code, 0) << "it exited by signal " << r.exit_code - 128 << ":\n" << r.err;
  for (const auto& var : GetParam().named) {
    EXPECT_NE(r.err.find(var), std::string::npos) << "stderr does not name " << var << ":\n"
                                                  << r.err;
  }
  if (!GetParam().secret.empty()) {
    EXPECT_EQ((r.out + r.err).find(GetParam().secret), std::string::npos) << r.err;
  }
}

INSTANTIATE_TEST_SUITE_P(
    IntegProcess, BadConfiguration,
    ::testing::Values(
        BadConfig{"Port", {{"PORT", "abc"}}, {"PORT"}, ""},
        BadConfig{
            "MaxMemory", {{"API_KEY_CACHE_MAX_MEMORY", "lots"}}, {"API_KEY_CACHE_MAX_MEMORY"}, ""},
        BadConfig{
            "ShortPepper", {{"KEYCACHE_PEPPER", "pepperZ9"}}, {"KEYCACHE_PEPPER"}, "pepperZ9"},
        BadConfig{"AllAtOnce",
                  {{"PORT", "abc"},
                   {"API_KEY_CACHE_MAX_MEMORY", "lots"},
                   {"KEYCACHE_PEPPER", "pepperZ9"}},
                  {"PORT", "API_KEY_CACHE_MAX_MEMORY", "KEYCACHE_PEPPER"},
                  "pepperZ9"}),
    [](const ::testing::TestParamInfo<BadConfig>& info) { return std::string(info.param.name); });

TEST(IntegProcess, MalformedDotEnvOrStrayArgumentsExitNonZero) {
  TempDir dir;
  std::ofstream(dir.path() / ".env") << "GOOD=1\nthis line is not an assignment\n";
  const RunResult bad_env = RunKeycached({"serve"}, DefaultServerEnv(), dir.path(), 20s);
  ASSERT_FALSE(bad_env.timed_out) << bad_env.err;
  EXPECT_NE(bad_env.exit_code, 0);
  EXPECT_NE(bad_env.err.find(".env"), std::string::npos) << bad_env.err;
  EXPECT_NE(bad_env.err.find('2'), std::string::npos) << "names the line: " << bad_env.err;

  TempDir other;
  const RunResult extra =
      RunKeycached({"serve", "--port", "1"}, DefaultServerEnv(), other.path(), 20s);
  ASSERT_FALSE(extra.timed_out);
  EXPECT_EQ(extra.exit_code, 2) << extra.err;
}

TEST(IntegProcess, TrustedProxyForwardedForBecomesTheClientAddress) {
  KeycachedProcess server({{{"KEYCACHE_TRUSTED_PROXIES", "127.0.0.1"}}, std::nullopt});
  ASSERT_TRUE(server.Start());
  ApiClient api(server.port(), server.admin_token());
  const CreatedKey k = CreateKey(api, UniqueOwner("proxy"));
  ASSERT_EQ(Verify(api, k.key, {}, {{"X-Forwarded-For", "203.0.113.7"}}).Str("code"), "VALID");
  Reply usage;
  EXPECT_TRUE(PollUntil([&] {
    usage = api.Admin(http::verb::get, "/v1/keys/" + k.id + "/usage");
    return usage.Str("last_used_ip") == "203.0.113.7";
  })) << usage.Describe();

  // The nearest untrusted hop wins; a spoofed entry further left is ignored.
  ASSERT_EQ(Auth(api, k.key, {}, {{"X-Forwarded-For", "198.51.100.9, 203.0.113.8"}}).status, 200u);
  EXPECT_TRUE(PollUntil([&] {
    usage = api.Admin(http::verb::get, "/v1/keys/" + k.id + "/usage");
    return usage.Str("last_used_ip") == "203.0.113.8";
  })) << usage.Describe();
  ExpectCleanStop(server);
}

TEST(IntegProcess, ForwardedForIsIgnoredWithoutTrustedProxies) {
  KeycachedProcess server;
  ASSERT_TRUE(server.Start());
  ApiClient api(server.port(), server.admin_token());
  const CreatedKey k = CreateKey(api, UniqueOwner("noproxy"));
  ASSERT_EQ(
      Verify(api, k.key, {}, {{"X-Forwarded-For", "203.0.113.7"}, {"X-Real-IP", "203.0.113.9"}})
          .Str("code"),
      "VALID");
  Reply usage;
  EXPECT_TRUE(PollUntil([&] {
    usage = api.Admin(http::verb::get, "/v1/keys/" + k.id + "/usage");
    return !usage.Str("last_used_ip").empty();
  })) << usage.Describe();
  EXPECT_EQ(usage.Str("last_used_ip"), "127.0.0.1") << usage.Describe();
  ExpectCleanStop(server);
}

// ADMIN_PORT: the admin API on a listener of its own. The public listener serves verification,
// health, metrics and the status page, and answers 404 to every admin route, token or not; the
// admin listener serves everything; the CLI finds it by itself.
TEST(IntegProcess, TheAdminApiCanHaveAListenerOfItsOwn) {
  KeycachedProcess server(KeycachedOptions{.env = {{"ADMIN_PORT", "0"}}});
  ASSERT_TRUE(server.Start());
  std::uint16_t admin_port = 0;
  {
    const std::string log = server.log();
    const std::size_t at = log.find(" admin_port=");
    ASSERT_NE(at, std::string::npos) << log;
    admin_port = static_cast<std::uint16_t>(std::strtoul(log.c_str() + at + 12, nullptr, 10));
  }
  ASSERT_NE(admin_port, 0);
  ASSERT_NE(admin_port, server.port());
  ApiClient public_api(server.port(), server.admin_token());
  ApiClient admin_api(admin_port, server.admin_token());

  const std::string owner = UniqueOwner("admin-listener");
  const CreatedKey k = CreateKey(admin_api, owner);
  EXPECT_EQ(Verify(public_api, k.key).Str("code"), "VALID");
  EXPECT_EQ(Verify(admin_api, k.key).Str("code"), "VALID");
  for (const char* path : {"/health/live", "/health/ready", "/metrics", "/status"}) {
    EXPECT_EQ(public_api.Send(http::verb::get, path).status, 200u) << path;
  }
  // Every admin route is absent from the public listener, even with the right token.
  const std::vector<std::pair<http::verb, std::string>> admin_routes = {
      {http::verb::post, "/v1/keys"},
      {http::verb::get, "/v1/keys/" + k.id},
      {http::verb::post, "/v1/keys/" + k.id + "/revoke"},
      {http::verb::get, "/v1/owners/someone/keys"},
      {http::verb::post, "/admin/cache/invalidate"},
      {http::verb::get, "/admin/cache/stats"}};
  for (const auto& [verb, path] : admin_routes) {
    ExpectApiError(public_api.Admin(verb, path, "{}"), 404, "", path);
  }
  EXPECT_EQ(admin_api.Admin(http::verb::get, "/admin/cache/stats").status, 200u);
  EXPECT_EQ(admin_api.Admin(http::verb::get, "/v1/keys/" + k.id).status, 200u);

  // The CLI reaches the admin listener through ADMIN_PORT.
  const EnvVars cli_env = {{"ADMIN_PORT", std::to_string(admin_port)},
                           {"ADMIN_TOKEN", server.admin_token()}};
  const RunResult listed =
      RunKeycached({"keys", "list", "--owner", owner}, cli_env, server.workdir());
  EXPECT_EQ(listed.exit_code, 0) << listed.out << listed.err;
  EXPECT_NE(listed.out.find(k.id), std::string::npos) << listed.out;

  const Reply revoked = admin_api.Admin(http::verb::post, "/v1/keys/" + k.id + "/revoke", "{}");
  EXPECT_EQ(revoked.status, 200u) << revoked.Describe();
  EXPECT_EQ(Verify(public_api, k.key).Str("code"), "REVOKED");
  ExpectCleanStop(server);
}

// A typo in a variable with one of our prefixes does not pass silently: keycached starts and logs
// a warning naming the variable and the nearest known one, never its value.
TEST(IntegProcess, AnUnknownVariableWithOurPrefixIsAWarningNamingIt) {
  KeycachedProcess server(
      KeycachedOptions{.env = {{"REDIS_HOTS", "secret-looking-value"}, {"CACHE_ENABLE", "false"}}});
  ASSERT_TRUE(server.Start());
  const std::string log = server.log();
  EXPECT_NE(log.find("WARN unknown_variable variable=REDIS_HOTS"), std::string::npos) << log;
  EXPECT_NE(log.find("did you mean REDIS_HOST?"), std::string::npos) << log;
  EXPECT_NE(log.find("variable=CACHE_ENABLE "), std::string::npos) << log;
  EXPECT_EQ(log.find("secret-looking-value"), std::string::npos) << log;
  ExpectCleanStop(server);
}

}  // namespace
}  // namespace keycache::testing
