// The status page (GET /status, GET /): self-contained HTML, rendered by a real headless Chromium
// (Debian's package) against a real keycached with a real Redis. The figures the page shows
// after its script ran are the ones /health/cache and /metrics give; it refreshes by itself; and
// a screenshot is taken (status-page.png in the test's working directory).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <string>

#include "integration/redis_tier_util.h"
#include "support/netns.h"

namespace keycache::testing {
namespace {

constexpr const char* kChromium = "/usr/bin/chromium";

// The element with id="<id>" in a serialized DOM: its data-raw attribute and its text.
struct Field {
  std::string raw, text;
};
std::optional<Field> FindField(const std::string& dom, const std::string& id) {
  const std::regex tag("<[a-z0-9]+[^>]*\\bid=\"" + id + "\"[^>]*>([^<]*)");
  std::smatch m;
  if (!std::regex_search(dom, m, tag)) return std::nullopt;
  const std::string open = m[0].str();
  std::smatch raw;
  Field f;
  if (std::regex_search(open, raw, std::regex("data-raw=\"([^\"]*)\""))) f.raw = raw[1].str();
  f.text = m[1].str();
  return f;
}

double Number(const std::string& s) { return std::strtod(s.c_str(), nullptr); }

std::vector<std::string> ChromiumArgs(const TempDir& profile, std::vector<std::string> more) {
  std::vector<std::string> argv = {kChromium, "--headless=new",
                                   "--no-sandbox",  // the tests run as root
                                   "--disable-gpu", "--no-first-run", "--disable-extensions",
                                   "--user-data-dir=" + profile.path().string(),
                                   // Virtual time advances while the page is idle, so several
                                   // polls (every 2 s) run; it waits while a fetch is pending.
                                   "--virtual-time-budget=7000"};
  argv.insert(argv.end(), more.begin(), more.end());
  return argv;
}

class StatusPage : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kChromium))
        << kChromium << " is missing: scripts/install-deps.sh installs chromium";
    ASSERT_TRUE(deployment_.StartRedis());
    instance_ = deployment_.AddInstance({{"KEYCACHE_INSTANCE_ID", "status-page"}});
    ASSERT_NE(instance_, nullptr);
    api_ = SharedRedisDeployment::Client(*instance_);
    ASSERT_TRUE(WaitCoherent(*api_));
  }
  void TearDown() override {
    if (instance_) ExpectCleanStop(*instance_);
  }
  std::string Url() const {
    return "http://127.0.0.1:" + std::to_string(instance_->port()) + "/status";
  }

  SharedRedisDeployment deployment_;
  KeycachedProcess* instance_ = nullptr;
  std::unique_ptr<ApiClient> api_;
};

TEST_F(StatusPage, IsOneSelfContainedDocumentAtStatusAndAtTheRoot) {
  for (const char* path : {"/status", "/"}) {
    const Reply r = api_->Send(http::verb::get, path);
    ASSERT_EQ(r.status, 200u) << path;
    EXPECT_EQ(r.Header("Content-Type"), "text/html; charset=utf-8") << path;
    EXPECT_NE(r.body.find("<title>keycache status</title>"), std::string::npos) << path;
    EXPECT_NE(r.Header("Content-Security-Policy").find("default-src 'none'"), std::string::npos);
    // No CDN, no external script, style, font or image: nothing the page loads leaves the origin.
    for (const char* external :
         {"src=\"http", "href=\"http", "src=\"//", "href=\"//", "@import", "url(http"}) {
      EXPECT_EQ(r.body.find(external), std::string::npos) << path << " loads " << external;
    }
  }
}

TEST_F(StatusPage, ChromiumShowsTheFiguresOfHealthCacheAndRefreshesLive) {
  for (int i = 0; i < 3; ++i) {
    const CreatedKey k = CreateKey(*api_, UniqueOwner("status"));
    for (int j = 0; j < 3; ++j) ASSERT_EQ(Verify(*api_, k.key).Str("code"), "VALID");
  }
  ASSERT_EQ(Verify(*api_, UnknownWellFormedKey()).Str("code"), "NOT_FOUND");

  TempDir profile;
  const CommandResult dom =
      RunCommand(ChromiumArgs(profile, {"--dump-dom", Url()}), std::chrono::seconds(90));
  ASSERT_EQ(dom.exit_code, 0) << dom.output.substr(0, 4000);
  const std::string& page = dom.output;
  // What the page shows now, against what keycached says now (no traffic in between).
  const Reply health = api_->Send(http::verb::get, "/health/cache");
  ASSERT_EQ(health.status, 200u) << health.Describe();
  const auto& cache = health.json.at("cache").as_object();

  const auto field = [&](const std::string& id) {
    auto f = FindField(page, id);
    EXPECT_TRUE(f.has_value()) << "no #" << id << " in the page";
    return f.value_or(Field{});
  };
  EXPECT_GE(Number(field("polls").raw), 2) << "the page did not refresh by itself";
  EXPECT_EQ(field("error").text, "");
  EXPECT_EQ(field("status").raw, health.Str("status"));
  EXPECT_DOUBLE_EQ(Number(field("hit-rate").raw), cache.at("hitRate").to_number<double>());
  EXPECT_EQ(Number(field("window-lookups").raw), cache.at("windowLookups").to_number<double>());
  EXPECT_EQ(Number(field("total-entries").raw), cache.at("totalEntries").to_number<double>());
  EXPECT_EQ(Number(field("entries-validation").raw),
            cache.at("breakdown").at("validation").to_number<double>());
  EXPECT_EQ(Number(field("entries-negative").raw), cache.at("negativeEntries").to_number<double>());
  EXPECT_EQ(Number(field("memory").raw), cache.at("memoryBytes").to_number<double>());
  EXPECT_EQ(field("redis-state").raw, "up");
  EXPECT_EQ(field("breaker").raw, cache.at("redis").at("breaker").as_string().c_str());
  const auto& lag = cache.at("redis").at("propagationLag");
  EXPECT_EQ(Number(field("lag-count").raw), lag.at("samples").to_number<double>());
  EXPECT_DOUBLE_EQ(Number(field("lag-p99").raw), lag.at("p99Seconds").to_number<double>());
  // The hit rate is shown as a plain percentage, never in exponent notation.
  EXPECT_TRUE(std::regex_match(field("hit-rate").text, std::regex("[0-9]+\\.[0-9] %")))
      << field("hit-rate").text;
  // Verifications: the page's total is the sum of keycache_verifications_total.
  EXPECT_EQ(Number(field("verifications-total").raw), 10.0);
  EXPECT_EQ(Number(field("store-reads").raw), MetricValue(*api_, "keycache_store_reads_total"));

  const std::filesystem::path shot = std::filesystem::current_path() / "status-page.png";
  std::filesystem::remove(shot);
  TempDir profile2;
  const CommandResult screenshot = RunCommand(
      ChromiumArgs(profile2, {"--window-size=1280,900", "--screenshot=" + shot.string(), Url()}),
      std::chrono::seconds(90));
  ASSERT_EQ(screenshot.exit_code, 0) << screenshot.output.substr(0, 4000);
  std::ifstream png(shot, std::ios::binary);
  std::string head(8, '\0');
  ASSERT_TRUE(png.read(head.data(), 8)) << "no screenshot at " << shot;
  EXPECT_EQ(head, std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_GT(std::filesystem::file_size(shot), 10'000u) << "an empty page?";
}

}  // namespace
}  // namespace keycache::testing
