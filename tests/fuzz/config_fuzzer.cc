// Fuzzes the configuration: ParseDotEnv (config/dotenv.h) on the first part of the input, and
// LoadConfig (config/config.h) on an EnvMap whose names are the real variables and whose values
// come from the input, merged over the parsed .env. Properties: a .env error names the file and a
// line and never quotes the line; an accepted .env, written back with double quotes, parses to
// the same map; every LoadConfig error names a known variable and says something; no message
// carries the value of ADMIN_TOKEN, KEYCACHE_PEPPER, REDIS_PASSWORD or DATABASE_URL; a config is
// returned exactly when there is no error, and its values lie in their documented ranges.
#include <fuzzer/FuzzedDataProvider.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/dotenv.h"
#include "config/known_variables.h"
#include "fuzz/fuzz_check.h"

namespace keycache {
namespace {

constexpr std::string_view kOrigin = "fuzz.env";

// Every variable keycache reads (config/known_variables.h): the fuzzer draws names from it.
const std::span<const std::string_view> kVariables = KnownVariables();

constexpr std::array<std::string_view, 5> kSecrets = {
    "ADMIN_TOKEN", "KEYCACHE_PEPPER", "REDIS_PASSWORD", "DATABASE_URL", "REDIS_TLS_KEY"};
// Put at the front of secret values (after a URL scheme) so that a leak is recognisable.
constexpr std::string_view kCanary = "Zq7canary";

bool IsSecret(std::string_view var) {
  return std::find(kSecrets.begin(), kSecrets.end(), var) != kSecrets.end();
}

bool IsFileVariable(std::string_view var) {
  return var == "KEYCACHE_PEPPER_FILE" || var == "ADMIN_TOKEN_FILE" ||
         var == "REDIS_PASSWORD_FILE" || var.starts_with("REDIS_TLS_C") || var == "REDIS_TLS_KEY";
}

// File-valued variables point only at these (a fuzzer must not read arbitrary paths, and a
// FIFO would block): a long secret, a short one, a directory and a missing file. Removed at exit.
class TempFiles {
 public:
  TempFiles()
      : dir_(std::filesystem::temp_directory_path() /
             ("keycache-config-fuzz-" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "long") << std::string(40, 's') << "\n";
    std::ofstream(dir_ / "short") << "short\n";
    paths_ = {(dir_ / "long").string(), (dir_ / "short").string(), dir_.string(),
              (dir_ / "missing").string()};
  }
  ~TempFiles() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  const std::vector<std::string>& paths() const { return paths_; }

 private:
  std::filesystem::path dir_;
  std::vector<std::string> paths_;
};

const std::vector<std::string>& Files() {
  static const TempFiles files;
  return files.paths();
}

std::string WithCanary(std::string_view var, std::string value) {
  std::size_t at = 0;
  if (var == "REDIS_TLS_KEY") {  // secret only as PEM text; a path is echoed in messages
    constexpr std::string_view kBegin = "-----BEGIN PRIVATE KEY-----";
    if (!value.starts_with(kBegin)) return value;
    at = kBegin.size();
  }
  if (var == "DATABASE_URL") {
    for (std::string_view scheme : {"sqlite:", "postgresql://", "postgres://"}) {
      if (value.starts_with(scheme)) at = scheme.size();
    }
  }
  return value.insert(at, kCanary);
}

bool IsDotEnvReason(std::string_view why) {
  for (std::string_view known :
       {"expected KEY=VALUE", "unterminated single-quoted value",
        "unterminated double-quoted value", "unexpected text after the closing quote",
        "invalid variable name; expected letters, digits and '_', not starting with a digit"}) {
    if (why == known) return true;
  }
  return false;
}

void CheckDotEnv(std::string_view text, const boost::system::result<EnvMap, ConfigError>& parsed) {
  if (!parsed) {
    // "line N: <reason>", never the line itself.
    const ConfigError& e = parsed.error();
    FUZZ_CHECK(e.variable == kOrigin);
    FUZZ_CHECK(e.message.starts_with("line "));
    const std::size_t colon = e.message.find(": ");
    FUZZ_CHECK(colon != std::string::npos && colon > 5);
    const std::string number = e.message.substr(5, colon - 5);
    FUZZ_CHECK(
        std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; }));
    FUZZ_CHECK(std::stoul(number) <=
               static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1);
    FUZZ_CHECK(IsDotEnvReason(std::string_view(e.message).substr(colon + 2)));
    return;
  }
  std::string rendered;
  for (const auto& [key, value] : *parsed) {
    rendered += "export " + key + "=\"";
    for (char c : value) {
      switch (c) {
        case '\n':
          rendered += "\\n";
          break;
        case '\r':
          rendered += "\\r";
          break;
        case '"':
        case '\\':
          rendered.push_back('\\');
          rendered.push_back(c);
          break;
        default:
          rendered.push_back(c);
      }
    }
    rendered += "\" # written back\r\n";
  }
  const auto again = ParseDotEnv(rendered, kOrigin);
  FUZZ_CHECK(again && *again == *parsed);
}

void CheckConfig(const EnvMap& env, const ConfigLoad& load) {
  FUZZ_CHECK(load.config.has_value() == load.errors.empty());
  // A leak is recognisable by the canary in a secret's value, unless another variable carries
  // the canary too (the fuzzer may copy it). A secret's value alone could be any text of a
  // message ("expected sqlite:PATH" is a valid DATABASE_URL value to a fuzzer).
  const bool canary_in_secret = std::any_of(env.begin(), env.end(), [](const auto& kv) {
    return IsSecret(kv.first) && kv.second.find(kCanary) != std::string::npos;
  });
  const bool canary_elsewhere = std::any_of(env.begin(), env.end(), [](const auto& kv) {
    return !IsSecret(kv.first) && kv.second.find(kCanary) != std::string::npos;
  });
  for (const ConfigError& w : load.warnings) {  // unknown names with our prefixes, never values
    FUZZ_CHECK(HasKeycachePrefix(w.variable) && !IsKnownVariable(w.variable));
    FUZZ_CHECK(env.contains(w.variable));
    FUZZ_CHECK(w.message.find(kCanary) == std::string::npos);
  }
  for (const ConfigError& e : load.errors) {
    FUZZ_CHECK(std::find(kVariables.begin(), kVariables.end(), e.variable) != kVariables.end());
    FUZZ_CHECK(!e.message.empty());
    if (canary_in_secret && !canary_elsewhere) {
      FUZZ_CHECK(e.message.find(kCanary) == std::string::npos);
    }
  }
  if (!load.config) return;
  const Config& c = *load.config;
  FUZZ_CHECK(c.http_threads >= 1 && c.http_threads <= 64);
  FUZZ_CHECK(c.db_threads >= 1 && c.db_threads <= 64);
  FUZZ_CHECK(c.max_body_bytes >= 1024 && c.max_body_bytes <= (64u << 20));
  FUZZ_CHECK(c.max_header_bytes >= 1024 && c.max_header_bytes <= (1u << 20));
  FUZZ_CHECK(c.http_read_timeout_ms >= 100 && c.http_read_timeout_ms <= 3'600'000);
  FUZZ_CHECK(c.admin_token.empty() || c.admin_token.size() >= kMinAdminTokenChars);
  FUZZ_CHECK(c.pepper.empty() || c.pepper.size() >= 32);
  for (std::int64_t ttl :
       {c.ttl_validation_s, c.ttl_scope_s, c.ttl_user_list_s, c.ttl_usage_s, c.ttl_negative_s}) {
    FUZZ_CHECK(ttl >= 1 && ttl <= 7 * 24 * 3600);
  }
  FUZZ_CHECK(!c.redis.enabled || !c.redis.host.empty());
  FUZZ_CHECK(c.redis.l1_enabled || c.redis.enabled);
  FUZZ_CHECK(c.redis.tls_cert.empty() == c.redis.tls_key.empty());
  FUZZ_CHECK(c.is_sqlite() ? !c.sqlite_path().empty()
                           : (!c.admin_token.empty() && !c.pepper.empty()));
}

}  // namespace
}  // namespace keycache

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace keycache;
  FuzzedDataProvider p(data, size);
  const std::string text = p.ConsumeRandomLengthString(2048);
  const auto dotenv = ParseDotEnv(text, kOrigin);
  CheckDotEnv(text, dotenv);

  // The "process environment": NAME=VALUE strings over the real names.
  const bool canaries = p.ConsumeBool();
  std::vector<std::string> entries;
  const int n = p.ConsumeIntegralInRange(0, 24);
  for (int i = 0; i < n && p.remaining_bytes() > 0; ++i) {
    const std::string_view var =
        kVariables[p.ConsumeIntegralInRange<std::size_t>(0, kVariables.size() - 1)];
    std::string value;
    if ((var.starts_with("REDIS_TLS_C") || var == "REDIS_TLS_KEY") && p.ConsumeBool()) {
      // PEM text instead of a path: one line with \n escapes or real line breaks, with or
      // without its END line.
      const bool escaped = p.ConsumeBool();
      const std::string_view nl = escaped ? "\\n" : "\n";
      value = "-----BEGIN PRIVATE KEY-----" + std::string(nl) + p.ConsumeRandomLengthString(64);
      std::erase(value, '\0');
      if (p.ConsumeBool()) value += std::string(nl) + "-----END PRIVATE KEY-----";
    } else if (IsFileVariable(var)) {
      value = Files()[p.ConsumeIntegralInRange<std::size_t>(0, Files().size() - 1)];
    } else {
      value = p.ConsumeRandomLengthString(96);
      std::erase(value, '\0');  // an environment string ends at its first NUL
    }
    entries.push_back(std::string(var) + "=" + value);
  }
  std::vector<char*> environ;
  for (std::string& e : entries) environ.push_back(e.data());
  environ.push_back(nullptr);

  EnvMap env = MergeEnvironment(dotenv ? *dotenv : EnvMap(), environ.data());
  for (const std::string& e : entries) {  // the environment wins over the .env
    const std::size_t eq = e.find('=');
    // (A later duplicate in the environment wins over an earlier one.)
    const auto last = std::find_if(entries.rbegin(), entries.rend(), [&](const std::string& o) {
      return o.compare(0, eq + 1, e, 0, eq + 1) == 0;
    });
    FUZZ_CHECK(env.at(e.substr(0, eq)) == last->substr(eq + 1));
  }
  if (canaries) {  // in secrets from the .env and from the environment alike
    for (std::string_view var : kSecrets) {
      if (auto it = env.find(std::string(var)); it != env.end()) {
        it->second = WithCanary(var, std::move(it->second));
      }
    }
  }
  CheckConfig(env, LoadConfig(env));
  return 0;
}
