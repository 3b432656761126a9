#include "integration/integration_util.h"

#include <boost/json/array.hpp>
#include <random>
#include <sstream>

#include "core/api_key.h"
#include "util/clock.h"
#include "util/time_format.h"

namespace keycache::testing {

void ExpectCleanStop(KeycachedProcess& server) {
  const int code = server.Stop();
  const std::string log = server.log();
  EXPECT_EQ(code, 0) << "keycached did not exit cleanly on SIGTERM; log:\n" << log;
  for (const char* bad : {"AddressSanitizer", "LeakSanitizer", "runtime error:", " ERROR "}) {
    EXPECT_EQ(log.find(bad), std::string::npos) << "keycached logged \"" << bad << "\"; log:\n"
                                                << log;
  }
}

void ExpectHealthy(std::uint16_t port) {
  ApiClient fresh(port);
  const Reply live = fresh.Send(http::verb::get, "/health/live");
  EXPECT_EQ(live.status, 200u) << live.Describe();
  const Reply ready = fresh.Send(http::verb::get, "/health/ready");
  EXPECT_EQ(ready.status, 200u) << ready.Describe();
}

std::string UniqueOwner(std::string_view prefix) {
  std::random_device rd;
  std::uniform_int_distribution<std::uint64_t> dist;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(dist(rd)));
  return std::string(prefix) + "-" + hex;
}

std::string ToJson(const boost::json::value& v) { return boost::json::serialize(v); }

boost::json::array JsonStrings(const std::vector<std::string>& items) {
  boost::json::array a;
  for (const auto& s : items) a.emplace_back(s);
  return a;
}

CreatedKey CreateKey(ApiClient& api, const std::string& owner,
                     const std::vector<std::string>& scopes, const boost::json::object& extra) {
  boost::json::object body;
  body["owner_id"] = owner;
  body["name"] = "integration key";
  body["scopes"] = JsonStrings(scopes);
  for (const auto& kv : extra) body[kv.key()] = kv.value();
  CreatedKey created;
  created.reply = api.Admin(http::verb::post, "/v1/keys", ToJson(body));
  created.key = created.reply.Str("key");
  created.id = created.reply.Str("id");
  if (const auto* r = created.reply.Object().if_contains("record"); r && r->is_object()) {
    created.record = r->as_object();
  }
  EXPECT_EQ(created.reply.status, 201u) << "creating a key: " << created.reply.Describe();
  EXPECT_FALSE(created.key.empty()) << created.reply.Describe();
  EXPECT_FALSE(created.id.empty()) << created.reply.Describe();
  return created;
}

Reply Verify(ApiClient& api, const std::string& key, const std::vector<std::string>& scopes,
             ApiClient::Headers headers) {
  boost::json::object body;
  body["key"] = key;
  body["scopes"] = JsonStrings(scopes);
  return api.Send(http::verb::post, "/v1/keys/verify", ToJson(body), std::move(headers));
}

Reply Auth(ApiClient& api, const std::string& key, const std::string& required_scope,
           ApiClient::Headers headers) {
  if (!key.empty()) headers.emplace_back("X-API-Key", key);
  if (!required_scope.empty()) headers.emplace_back("X-Required-Scope", required_scope);
  return api.Send(http::verb::get, "/v1/auth", {}, std::move(headers));
}

std::int64_t RequestCount(ApiClient& api, const std::string& id) {
  const Reply r = api.Admin(http::verb::get, "/v1/keys/" + id + "/usage");
  if (r.status != 200) return -1;
  const auto* count = r.Object().if_contains("request_count");
  if (count == nullptr) return -1;
  if (count->is_int64()) return count->as_int64();
  if (count->is_uint64()) return static_cast<std::int64_t>(count->as_uint64());
  return -1;
}

std::string UnknownWellFormedKey(std::string_view prefix) {
  auto generated = GenerateKey(prefix);
  EXPECT_TRUE(generated) << "GenerateKey failed";
  return generated ? generated->key : std::string();
}

std::string FlipChar(std::string key, std::size_t pos) {
  if (pos < key.size()) key[pos] = key[pos] == 'A' ? 'B' : 'A';
  return key;
}

void ExpectNoSecretMembers(const boost::json::object& record) {
  for (const char* name : {"key", "hash", "key_hash", "secret", "secret_hash", "pepper"}) {
    EXPECT_FALSE(record.contains(name)) << "record has '" << name << "': " << ToJson(record);
  }
}

void ExpectApiError(const Reply& reply, unsigned status, std::string_view mention,
                    std::string_view context) {
  SCOPED_TRACE(std::string(context));
  EXPECT_EQ(reply.status, status) << reply.Describe();
  EXPECT_TRUE(reply.json.is_object()) << "error body is not a JSON object: " << reply.Describe();
  EXPECT_FALSE(reply.Str("error").empty()) << "no 'error' code: " << reply.Describe();
  const std::string message = reply.Str("message");
  EXPECT_FALSE(message.empty()) << "no 'message': " << reply.Describe();
  if (!mention.empty()) {
    EXPECT_NE(message.find(mention), std::string::npos)
        << "the message does not name '" << mention << "': " << reply.Describe();
  }
  EXPECT_NE(reply.Header("Content-Type").find("application/json"), std::string::npos)
      << "Content-Type: " << reply.Header("Content-Type");
}

std::string Rfc3339FromNow(std::int64_t offset_ms) {
  return FormatRfc3339(SystemClock().NowMs() + offset_ms);
}

double MetricValue(ApiClient& api, const std::string& series) {
  const Reply r = api.Send(http::verb::get, "/metrics");
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

}  // namespace keycache::testing
