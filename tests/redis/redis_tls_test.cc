// RedisClient over TLS against a real redis-server with a throwaway PKI.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "redis/redis_client.h"
#include "redis/redis_test_util.h"
#include "support/keycached_process.h"
#include "support/redis_config_rewrite.h"
#include "support/redis_server_process.h"
#include "support/test_certs.h"

namespace keycache::testing {
namespace {

class RedisTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    pki_ = new TestPki(MakeTestPki(dir_->path()));
  }
  static void TearDownTestSuite() {
    delete pki_;
    delete dir_;
  }
  void SetUp() override { ASSERT_TRUE(pki_->ok) << pki_->error; }

  static RedisServerOptions ServerOptions(bool other_ca_cert = false, bool mutual = false) {
    RedisServerOptions o;
    o.password = "tls-pass";
    o.tls = RedisServerOptions::Tls{other_ca_cert ? pki_->other_server_cert : pki_->server_cert,
                                    other_ca_cert ? pki_->other_server_key : pki_->server_key,
                                    pki_->ca_cert, mutual};
    return o;
  }
  std::unique_ptr<RedisClient> MakeClient(RedisOptions o) {
    o.pool_size = 2;
    o.connect_timeout = std::chrono::seconds(5);
    auto c = std::make_unique<RedisClient>(io_.executors(), std::move(o), log_);
    c->Start();
    return c;
  }
  void ExpectRoundTrip(RedisClient& client) {
    ASSERT_TRUE(WaitFor([&] { return client.connected(); })) << client.last_error();
    auto set = ExecOn(client, io_.executor(0), Cmd({"SET", "tls-key", "tls-value"}));
    ASSERT_TRUE(set.has_value());
    EXPECT_TRUE((*set)[0].is_ok());
    auto get = ExecOn(client, io_.executor(0), Cmd({"GET", "tls-key"}));
    ASSERT_TRUE(get.has_value());
    EXPECT_EQ((*get)[0].str, "tls-value");
  }
  // Waits for a failed attempt and checks that nothing connected.
  static std::string FailureOf(RedisClient& client) {
    EXPECT_TRUE(WaitFor([&] { return !client.last_error().empty(); }));
    EXPECT_FALSE(client.connected());
    RecordProperty("last_error", client.last_error());
    return client.last_error();
  }

  static TempDir* dir_;
  static TestPki* pki_;
  Logger log_{LogLevel::kOff};
  IoThreads io_{1};
};

TempDir* RedisTlsTest::dir_ = nullptr;
TestPki* RedisTlsTest::pki_ = nullptr;

TEST_F(RedisTlsTest, RoundTripWithTheTestCaVerifyingAnIpSan) {
  RedisServerProcess server(ServerOptions());
  ASSERT_TRUE(server.Start());
  auto client = MakeClient(server.ClientOptions());  // host 127.0.0.1: the IP SAN must match
  ExpectRoundTrip(*client);
}

TEST_F(RedisTlsTest, RoundTripVerifyingADnsNameViaSni) {
  RedisServerProcess server(ServerOptions());
  ASSERT_TRUE(server.Start());
  RedisOptions o = server.ClientOptions();
  o.tls.server_name = "localhost";
  auto client = MakeClient(o);
  ExpectRoundTrip(*client);
}

TEST_F(RedisTlsTest, WrongServerNameIsRefused) {
  RedisServerProcess server(ServerOptions());
  ASSERT_TRUE(server.Start());
  RedisOptions o = server.ClientOptions();
  o.tls.server_name = "not-the-server.example";
  auto client = MakeClient(o);
  const std::string error = FailureOf(*client);
  EXPECT_NE(error.find("Redis TLS handshake failed"), std::string::npos) << error;
}

TEST_F(RedisTlsTest, ServerCertificateFromAnotherCaIsRefused) {
  RedisServerProcess server(ServerOptions(/*other_ca_cert=*/true));
  ASSERT_TRUE(server.Start());
  auto client = MakeClient(server.ClientOptions());
  const std::string error = FailureOf(*client);
  EXPECT_NE(error.find("Redis TLS handshake failed"), std::string::npos) << error;
  EXPECT_NE(error.find("certificate"), std::string::npos) << error;
}

TEST_F(RedisTlsTest, MutualTlsWorksWithAClientCertificate) {
  RedisServerProcess server(ServerOptions(false, /*mutual=*/true));
  ASSERT_TRUE(server.Start());
  RedisOptions o = server.ClientOptions();
  o.tls.cert = pki_->client_cert;
  o.tls.key = pki_->client_key;
  auto client = MakeClient(o);
  ExpectRoundTrip(*client);
}

// The guide passes the CA, the certificate and the key as contents, not paths.
TEST_F(RedisTlsTest, MutualTlsWorksWithPemTextInsteadOfFiles) {
  RedisServerProcess server(ServerOptions(false, /*mutual=*/true));
  ASSERT_TRUE(server.Start());
  RedisOptions o = server.ClientOptions();
  o.tls.ca = ReadTextFile(o.tls.ca);
  o.tls.cert = ReadTextFile(pki_->client_cert);
  o.tls.key = ReadTextFile(pki_->client_key);
  ASSERT_NE(o.tls.ca.find("-----BEGIN CERTIFICATE-----"), std::string::npos);
  ASSERT_NE(o.tls.key.find("-----BEGIN "), std::string::npos);
  auto client = MakeClient(o);
  ExpectRoundTrip(*client);
}

TEST_F(RedisTlsTest, CorruptPemTextIsASetupErrorThatDoesNotEchoIt) {
  RedisServerProcess server(ServerOptions(false, /*mutual=*/true));
  ASSERT_TRUE(server.Start());
  RedisOptions o = server.ClientOptions();
  o.tls.cert = ReadTextFile(pki_->client_cert);
  o.tls.key = "-----BEGIN PRIVATE KEY-----\nbm90LWEta2V5LXNlY3JldA==\n-----END PRIVATE KEY-----\n";
  auto client = MakeClient(o);
  const std::string error = FailureOf(*client);
  EXPECT_NE(error.find("Redis TLS setup failed"), std::string::npos) << error;
  EXPECT_NE(error.find("private key given as PEM text"), std::string::npos) << error;
  EXPECT_EQ(error.find("bm90LWEta2V5"), std::string::npos) << error;
}

TEST_F(RedisTlsTest, MutualTlsFailsWithoutAClientCertificate) {
  RedisServerProcess server(ServerOptions(false, /*mutual=*/true));
  ASSERT_TRUE(server.Start());
  auto client = MakeClient(server.ClientOptions());
  const std::string error = FailureOf(*client);
  EXPECT_NE(error.find("Redis TLS handshake failed"), std::string::npos) << error;
}

TEST_F(RedisTlsTest, MissingCaFileIsASetupError) {
  RedisServerProcess server(ServerOptions());
  ASSERT_TRUE(server.Start());
  RedisOptions o = server.ClientOptions();
  o.tls.ca = (dir_->path() / "no-such-ca.pem").string();
  auto client = MakeClient(o);
  const std::string error = FailureOf(*client);
  EXPECT_NE(error.find("Redis TLS setup failed"), std::string::npos) << error;
}

}  // namespace
}  // namespace keycache::testing
