#include "config/secrets.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "config/secret_file.h"

namespace keycache {
namespace {

namespace fs = std::filesystem;

// A Logger whose output the test can read back.
class CapturedLog {
 public:
  CapturedLog() : file_(std::tmpfile()), log_(LogLevel::kDebug, file_) {}
  ~CapturedLog() { std::fclose(file_); }
  Logger& log() { return log_; }
  std::string Text() {
    std::fflush(file_);
    std::rewind(file_);
    std::string text;
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, file_)) > 0) text.append(buf, n);
    return text;
  }

 private:
  std::FILE* file_;
  Logger log_;
};

unsigned Mode(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool IsHex64(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

class Secrets : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) /
            ("secrets-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    config_.data_dir = root_ / "data";
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path root_;
  Config config_;  // SQLite by default
};

TEST_F(Secrets, GeneratesBothIntoANewPrivateDirectory) {
  CapturedLog log;
  ASSERT_TRUE(EnsureSecrets(config_, log.log()));
  EXPECT_TRUE(IsHex64(config_.admin_token)) << config_.admin_token;
  EXPECT_TRUE(IsHex64(config_.pepper));
  EXPECT_NE(config_.admin_token, config_.pepper);

  EXPECT_EQ(Mode(config_.data_dir), 0700u);
  const fs::path token_file = config_.data_dir / "admin-token";
  const fs::path pepper_file = config_.data_dir / "pepper";
  EXPECT_EQ(Mode(token_file), 0600u);
  EXPECT_EQ(Mode(pepper_file), 0600u);
  EXPECT_EQ(ReadFile(token_file), config_.admin_token + "\n");
  EXPECT_EQ(ReadFile(pepper_file), config_.pepper + "\n");

  // No temporary files left behind.
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(config_.data_dir)) ++entries;
  EXPECT_EQ(entries, 2u);

  const std::string text = log.Text();
  EXPECT_NE(text.find("secret_generated file=" + token_file.string()), std::string::npos) << text;
  EXPECT_NE(text.find("secret_generated file=" + pepper_file.string()), std::string::npos);
  EXPECT_EQ(text.find(config_.admin_token), std::string::npos) << "a secret reached the log";
  EXPECT_EQ(text.find(config_.pepper), std::string::npos) << "a secret reached the log";
}

TEST_F(Secrets, CreatesMissingParentsAndAcceptsATrailingSlash) {
  config_.data_dir = root_ / "nested" / "data/";
  CapturedLog log;
  ASSERT_TRUE(EnsureSecrets(config_, log.log()));
  EXPECT_EQ(Mode(root_ / "nested" / "data"), 0700u);
  EXPECT_EQ(Mode(root_ / "nested" / "data" / "pepper"), 0600u);
}

TEST_F(Secrets, ReloadReturnsTheSameValuesWithoutRegenerating) {
  CapturedLog first_log;
  ASSERT_TRUE(EnsureSecrets(config_, first_log.log()));

  Config again;
  again.data_dir = config_.data_dir;
  CapturedLog log;
  ASSERT_TRUE(EnsureSecrets(again, log.log()));
  EXPECT_EQ(again.admin_token, config_.admin_token);
  EXPECT_EQ(again.pepper, config_.pepper);
  const std::string text = log.Text();
  EXPECT_EQ(text.find("secret_generated"), std::string::npos) << text;
  EXPECT_NE(text.find("secret_loaded file=" + (config_.data_dir / "pepper").string()),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("secret_file_permissions"), std::string::npos) << text;
}

TEST_F(Secrets, ConfiguredSecretsAreKeptAndNothingIsWritten) {
  config_.admin_token = "configured-token-123";
  config_.pepper = std::string(32, 'k');
  CapturedLog log;
  ASSERT_TRUE(EnsureSecrets(config_, log.log()));
  EXPECT_EQ(config_.admin_token, "configured-token-123");
  EXPECT_EQ(config_.pepper, std::string(32, 'k'));
  EXPECT_FALSE(fs::exists(config_.data_dir));
}

TEST_F(Secrets, OnlyTheMissingSecretIsGenerated) {
  config_.pepper = std::string(32, 'k');
  CapturedLog log;
  ASSERT_TRUE(EnsureSecrets(config_, log.log()));
  EXPECT_TRUE(IsHex64(config_.admin_token));
  EXPECT_EQ(config_.pepper, std::string(32, 'k'));
  EXPECT_TRUE(fs::exists(config_.data_dir / "admin-token"));
  EXPECT_FALSE(fs::exists(config_.data_dir / "pepper"));
}

TEST_F(Secrets, ExistingFilesAreLoadedWithWhitespaceStripped) {
  fs::create_directories(config_.data_dir);
  const std::string pepper(48, 'z');
  std::ofstream(config_.data_dir / "pepper") << pepper << "\n\n";
  std::ofstream(config_.data_dir / "admin-token") << "operator-chosen-token\n";
  fs::permissions(config_.data_dir / "pepper", fs::perms::owner_read | fs::perms::owner_write);
  fs::permissions(config_.data_dir / "admin-token", fs::perms::owner_read | fs::perms::owner_write);
  CapturedLog log;
  ASSERT_TRUE(EnsureSecrets(config_, log.log()));
  EXPECT_EQ(config_.pepper, pepper);
  EXPECT_EQ(config_.admin_token, "operator-chosen-token");
}

TEST_F(Secrets, WarnsAboutGroupOrOtherPermissions) {
  fs::create_directories(config_.data_dir);
  std::ofstream(config_.data_dir / "pepper") << std::string(40, 'z');
  fs::permissions(config_.data_dir / "pepper", fs::perms::owner_read | fs::perms::owner_write |
                                                   fs::perms::group_read | fs::perms::others_read);
  config_.admin_token = "configured-token-123";
  CapturedLog log;
  ASSERT_TRUE(EnsureSecrets(config_, log.log()));
  const std::string text = log.Text();
  EXPECT_NE(text.find("WARN secret_file_permissions file=" +
                      (config_.data_dir / "pepper").string() + " mode=0644"),
            std::string::npos)
      << text;
}

TEST_F(Secrets, ATooShortFileIsAnErrorAndIsNotReplaced) {
  fs::create_directories(config_.data_dir);
  std::ofstream(config_.data_dir / "pepper") << "short\n";
  config_.admin_token = "configured-token-123";
  CapturedLog log;
  const auto result = EnsureSecrets(config_, log.log());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), make_error_code(Errc::kBadInput));
  EXPECT_EQ(ReadFile(config_.data_dir / "pepper"), "short\n");
  EXPECT_EQ(config_.pepper, "");
  const std::string text = log.Text();
  EXPECT_NE(text.find("secret_error variable=KEYCACHE_PEPPER"), std::string::npos) << text;
  EXPECT_NE(text.find("holds 5 characters; expected at least 32"), std::string::npos) << text;
}

TEST_F(Secrets, NonSqliteDatabaseRequiresBothSecrets) {
  config_.database_url = "postgresql://db/keys";
  CapturedLog log;
  const auto result = EnsureSecrets(config_, log.log());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), make_error_code(Errc::kBadInput));
  const std::string text = log.Text();
  EXPECT_NE(text.find("secret_error variable=ADMIN_TOKEN"), std::string::npos) << text;
  EXPECT_NE(text.find("secret_error variable=KEYCACHE_PEPPER"), std::string::npos) << text;
  EXPECT_FALSE(fs::exists(config_.data_dir));

  config_.admin_token = "configured-token-123";
  CapturedLog second;
  ASSERT_FALSE(EnsureSecrets(config_, second.log()));
  EXPECT_EQ(second.Text().find("variable=ADMIN_TOKEN"), std::string::npos);

  config_.pepper = std::string(32, 'k');
  CapturedLog third;
  EXPECT_TRUE(EnsureSecrets(config_, third.log()));
}

TEST_F(Secrets, UncreatableDataDirIsAnError) {
  std::ofstream(root_ / "a-file") << "x";
  config_.data_dir = root_ / "a-file" / "data";
  CapturedLog log;
  const auto result = EnsureSecrets(config_, log.log());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), make_error_code(Errc::kUnavailable));
  EXPECT_NE(log.Text().find("variable=KEYCACHE_DATA_DIR"), std::string::npos) << log.Text();
}

TEST_F(Secrets, CreateSecretFileNeverReplacesAnExistingFile) {
  const fs::path path = root_ / "pepper";
  auto first = CreateSecretFile(path, "winner\n");
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, CreateOutcome::kCreated);
  auto second = CreateSecretFile(path, "loser\n");
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, CreateOutcome::kAlreadyExists);
  EXPECT_EQ(ReadFile(path), "winner\n");
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(root_)) ++entries;
  EXPECT_EQ(entries, 1u) << "the loser's temporary file was left behind";
}

}  // namespace
}  // namespace keycache
