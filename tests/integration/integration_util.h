// Helpers shared by the integration tests: a fixture that runs one keycached per test suite,
// and short-hands for the requests every test makes (create a key, verify it, read usage).
// Not thread-safe: tests drive them from the test thread.
#pragma once

#include <gtest/gtest.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "support/api_client.h"
#include "support/keycached_process.h"

namespace keycache::testing {

using namespace std::chrono_literals;

// Stops `server` with SIGTERM and expects a clean exit: status 0, no sanitizer report, no
// ERROR line in its log.
void ExpectCleanStop(KeycachedProcess& server);

// Expects /health/live and /health/ready to answer 200 on a fresh connection.
void ExpectHealthy(std::uint16_t port);

// One keycached for every test of the suite `Suite`, started with Suite::Env() on top of the
// defaults. gtest_discover_tests runs each test in its own process, so in CI this is one
// server per test; tests still never depend on what another test left behind.
template <class Suite>
class ServerTest : public ::testing::Test {
 public:
  static EnvVars Env() { return {}; }

  static void SetUpTestSuite() {
    server_ = std::make_unique<KeycachedProcess>(KeycachedOptions{Suite::Env(), std::nullopt});
    const ::testing::AssertionResult started = server_->Start();
    start_error_ = started ? "" : started.message();
  }

  static void TearDownTestSuite() {
    if (server_ && start_error_.empty()) ExpectCleanStop(*server_);
    server_.reset();
  }

 protected:
  void SetUp() override {
    ASSERT_TRUE(start_error_.empty()) << start_error_;
    api_ = std::make_unique<ApiClient>(server_->port(), server_->admin_token());
  }

  KeycachedProcess& server() { return *server_; }
  ApiClient& api() { return *api_; }

 private:
  inline static std::unique_ptr<KeycachedProcess> server_;
  inline static std::string start_error_;
  std::unique_ptr<ApiClient> api_;
};

// An owner id no other test uses: "<prefix>-<random hex>".
std::string UniqueOwner(std::string_view prefix);

std::string ToJson(const boost::json::value& v);
inline boost::json::value JsonStr(std::string_view s) { return boost::json::string(s); }
boost::json::array JsonStrings(const std::vector<std::string>& items);

struct CreatedKey {
  std::string key;  // plaintext
  std::string id;
  boost::json::object record;
  Reply reply;
};

// POST /v1/keys with owner_id, a name, `scopes` and the members of `extra`; records a test
// failure unless the answer is 201 with a key and an id.
CreatedKey CreateKey(ApiClient& api, const std::string& owner,
                     const std::vector<std::string>& scopes = {},
                     const boost::json::object& extra = {});

// POST /v1/keys/verify {key, scopes}.
Reply Verify(ApiClient& api, const std::string& key, const std::vector<std::string>& scopes = {},
             ApiClient::Headers headers = {});

// GET /v1/auth with X-API-Key (when `key` is not empty) and X-Required-Scope (when not empty).
Reply Auth(ApiClient& api, const std::string& key, const std::string& required_scope = {},
           ApiClient::Headers headers = {});

// The request_count of GET /v1/keys/{id}/usage, or -1 on any other answer.
std::int64_t RequestCount(ApiClient& api, const std::string& id);

// A well-formed key ("ak_...") whose random id no stored key has.
std::string UnknownWellFormedKey(std::string_view prefix = "ak");

// `key` with the character at `pos` replaced by another base62 character.
std::string FlipChar(std::string key, std::size_t pos);

// Expects that a key record has no member that could hold the key or its hash.
void ExpectNoSecretMembers(const boost::json::object& record);

// Expects a 4xx JSON error {error, message} with `status`, whose message mentions `mention`
// (case-sensitive; "" checks nothing).
void ExpectApiError(const Reply& reply, unsigned status, std::string_view mention,
                    std::string_view context);

// A counter or gauge value from /metrics (the first sample whose line starts with `series`);
// -1 when absent.
double MetricValue(ApiClient& api, const std::string& series);

// The current time as an RFC 3339 string, `offset_ms` from now.
std::string Rfc3339FromNow(std::int64_t offset_ms);

}  // namespace keycache::testing
