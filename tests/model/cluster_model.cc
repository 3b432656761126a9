#include "model/cluster_model.h"

#include "support/redis_config_rewrite.h"

namespace keycache::testing::model {
namespace {

const std::string kServiceUser = "keycache";
const std::string kServiceUserPassword = "cluster-service-pass-0123456789";

RedisClusterDeploymentOptions DeploymentOptions(const ClusterModelOptions& options,
                                                const TestPki& pki) {
  RedisClusterDeploymentOptions o;
  // Under the model's traffic on a loaded 2-core machine a node can miss a 1 s timeout without
  // being dead (the Sentinel test saw a just-promoted primary silent for about 1 s): the cluster
  // would then fail it over by itself, outside the fault the test injects.
  o.node_timeout_ms = 2'000;
  if (options.tls) o.tls = RedisClusterDeploymentOptions::TlsFrom(pki);
  if (options.service_user) {
    const std::string acl = ReadTextFile(KEYCACHE_SOURCE_DIR "/deploy/redis/users.acl");
    o.users.push_back({kServiceUser, kServiceUserPassword, AclRules(acl, kServiceUser)});
  }
  return o;
}

}  // namespace

ClusterModel::ClusterModel(int instances, EnvVars extra_env, ClusterModelOptions options)
    : options_(options),
      key_prefix_(options.service_user ? "cache:apikeys:" : "model:apikeys:"),
      pki_(options.tls ? MakeTestPki(certs_.path()) : TestPki{}),
      cluster_(DeploymentOptions(options_, pki_)),
      store_(options.store),
      extra_env_(std::move(extra_env)),
      instances_(instances) {}

ClusterModel::~ClusterModel() = default;

::testing::AssertionResult ClusterModel::Start() {
  if (options_.tls && !pki_.ok) {
    return ::testing::AssertionFailure() << "no test PKI: " << pki_.error;
  }
  if (options_.service_user && cluster_.options().users.front().rules.empty()) {
    return ::testing::AssertionFailure()
           << "no user " << kServiceUser << " in " KEYCACHE_SOURCE_DIR "/deploy/redis/users.acl";
  }
  if (auto r = store_.Start(); !r) return r;
  if (auto r = cluster_.Start(); !r) return r;
  EnvVars env;
  std::string nodes;
  for (const auto& e : cluster_.Seeds()) nodes += (nodes.empty() ? "" : ",") + e.ToString();
  env["REDIS_CLUSTER_ENABLED"] = "true";
  env["REDIS_CLUSTER_NODES"] = nodes;
  if (options_.service_user) {
    env["REDIS_USERNAME"] = kServiceUser;
    env["REDIS_PASSWORD"] = kServiceUserPassword;
  } else {
    env["REDIS_PASSWORD"] = kClusterPassword;
  }
  if (options_.tls) {
    env["REDIS_TLS"] = "true";
    env["REDIS_TLS_CA"] = pki_.ca_cert;
    env["REDIS_TLS_CERT"] = pki_.client_cert;
    env["REDIS_TLS_KEY"] = pki_.client_key;
  }
  env["REDIS_POOL_SIZE"] = "4";
  env["REDIS_KEY_PREFIX"] = key_prefix_;
  env["REDIS_CONNECT_TIMEOUT"] = "1s";
  // 2 s: a killed node answers at once (connection refused or reset), and a slow one under
  // load should not turn a change's fence (its WAIT: a quarter of this) into a 503.
  env["REDIS_COMMAND_TIMEOUT"] = "2s";
  env["KEYCACHE_PEPPER"] = kSharedPepper;
  env["ADMIN_TOKEN"] = kSharedToken;
  env["DATABASE_URL"] = store_.Url();
  env["KEYCACHE_USAGE_FLUSH_INTERVAL"] = "100ms";
  env["KEYCACHE_MAX_KEYS_PER_OWNER"] = "100000";
  env["KEYCACHE_WARM_ON_START"] = "false";
  for (const auto& [k, v] : extra_env_) env[k] = v;
  return instances_.Launch(env, "cluster-model-");
}

}  // namespace keycache::testing::model
