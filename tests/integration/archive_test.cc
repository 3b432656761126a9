// `keycached export` and `keycached import`: a deployment moved from the embedded SQLite to a real
// PostgreSQL keeps every key (state, scopes, usage) and the keys made on SQLite verify there; an
// export of the imported store holds the same records; importing twice changes nothing; a file
// made under another pepper, a damaged or truncated file and a conflicting id are refused with a
// message and a non-zero exit, before anything is written.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "integration/integration_util.h"
#include "support/pg_session.h"
#include "support/postgres_server_process.h"

namespace keycache::testing {
namespace {

constexpr const char* kToken = "integ-admin-token-0123456789";
constexpr const char* kPepper = "integ-pepper-0123456789abcdefghijklmnopqrstuv";

std::vector<std::string> Lines(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

void Write(const std::filesystem::path& file, const std::vector<std::string>& lines,
           bool final_newline = true) {
  std::ofstream out(file, std::ios::trunc);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    out << lines[i];
    if (i + 1 < lines.size() || final_newline) out << '\n';
  }
}

std::string Describe(const RunResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout: " + r.out + "\nstderr: " + r.err;
}

class IntegArchive : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pg_.Start());
    ASSERT_TRUE(pg_.CreateDatabase("keycache"));
  }

  EnvVars SqliteEnv(const std::string& pepper = kPepper) const {
    return {{"DATABASE_URL", "sqlite:./keycache.db"},
            {"ADMIN_TOKEN", kToken},
            {"KEYCACHE_PEPPER", pepper}};
  }
  EnvVars PgEnv(const std::string& pepper = kPepper) const {
    return {{"DATABASE_URL", pg_.Url("keycache")},
            {"ADMIN_TOKEN", kToken},
            {"KEYCACHE_PEPPER", pepper},
            {"KEYCACHE_DB_TIMEOUT", "5s"}};
  }

  // Keys made on a SQLite keycached: one used three times, one revoked, one disabled; exported.
  void MakeSqliteExport() {
    KeycachedProcess server(KeycachedOptions{SqliteEnv(), std::nullopt});
    ASSERT_TRUE(server.Start());
    ApiClient api(server.port(), server.admin_token());
    const std::string owner = UniqueOwner("move");
    used_ = CreateKey(api, owner, {"reports:read"});
    revoked_ = CreateKey(api, owner);
    disabled_ = CreateKey(api, UniqueOwner("move"), {}, {{"metadata", {{"env", "prod"}}}});
    for (int i = 0; i < 3; ++i)
      ASSERT_EQ(Verify(api, used_.key, {"reports:read"}).Str("code"), "VALID");
    ASSERT_EQ(api.Admin(http::verb::post, "/v1/keys/" + revoked_.id + "/revoke", "{}").status,
              200u);
    ASSERT_EQ(
        api.Admin(http::verb::patch, "/v1/keys/" + disabled_.id, R"({"enabled":false})").status,
        200u);
    used_record_ = api.Admin(http::verb::get, "/v1/keys/" + used_.id).Object();
    ExpectCleanStop(server);  // flushes the usage counts
    const RunResult exported = RunKeycached({"export", "--out", File("keys.jsonl").string()},
                                            SqliteEnv(), server.workdir());
    ASSERT_EQ(exported.exit_code, 0) << Describe(exported);
    EXPECT_NE(exported.out.find("exported 3 key records"), std::string::npos) << exported.out;
  }

  RunResult Import(const std::filesystem::path& file, std::vector<std::string> extra = {},
                   const std::string& pepper = kPepper) {
    std::vector<std::string> args = {"import", "--in", file.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunKeycached(args, PgEnv(pepper), dir_.path());
  }

  std::string ApiKeysRows() {
    PgSession admin(pg_.Url("keycache"));
    if (admin.Text("SELECT count(*) FROM pg_tables WHERE tablename = 'api_keys'") == "0") {
      return "no table";
    }
    return admin.Text("SELECT count(*) FROM api_keys");
  }

  std::filesystem::path File(const std::string& name) const { return dir_.path() / name; }

  PostgresServerProcess pg_;
  TempDir dir_;
  CreatedKey used_, revoked_, disabled_;
  boost::json::object used_record_;
};

TEST_F(IntegArchive, KeysMadeOnSqliteVerifyOnPostgresWithTheirStateAndUsage) {
  ASSERT_NO_FATAL_FAILURE(MakeSqliteExport());
  const std::vector<std::string> lines = Lines(File("keys.jsonl"));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_NE(lines[0].find("\"format\":\"keycache-export\""), std::string::npos) << lines[0];
  EXPECT_EQ(lines[0].find(kPepper), std::string::npos) << "the pepper itself is never written";
  for (const std::string& line : lines) {
    EXPECT_EQ(line.find(used_.key), std::string::npos) << "a plaintext key is never written";
  }

  const RunResult imported = Import(File("keys.jsonl"));
  ASSERT_EQ(imported.exit_code, 0) << Describe(imported);
  EXPECT_NE(imported.out.find("3 records, 3 inserted, 0 already present"), std::string::npos)
      << imported.out;

  KeycachedProcess server(KeycachedOptions{PgEnv(), std::nullopt});
  ASSERT_TRUE(server.Start());
  ApiClient api(server.port(), server.admin_token());
  EXPECT_EQ(Verify(api, used_.key, {"reports:read"}).Str("code"), "VALID");
  EXPECT_EQ(Verify(api, revoked_.key).Str("code"), "REVOKED");
  EXPECT_EQ(Verify(api, disabled_.key).Str("code"), "DISABLED");
  EXPECT_EQ(RequestCount(api, used_.id), 4) << "3 on SQLite, 1 here";
  const Reply record = api.Admin(http::verb::get, "/v1/keys/" + disabled_.id);
  EXPECT_EQ(record.Object().at("metadata"), (boost::json::object{{"env", "prod"}}));
  const Reply used = api.Admin(http::verb::get, "/v1/keys/" + used_.id);
  for (const char* field : {"owner_id", "name", "scopes", "created_at", "expires_at"}) {
    EXPECT_EQ(used.Object().at(field), used_record_.at(field)) << field;
  }
  ExpectCleanStop(server);

  // Round trip: PostgreSQL's export holds the same records, in the same order (usage aside: the
  // one verification above counted).
  const RunResult again =
      RunKeycached({"export", "--out", File("again.jsonl").string()}, PgEnv(), dir_.path());
  ASSERT_EQ(again.exit_code, 0) << Describe(again);
  const std::vector<std::string> round = Lines(File("again.jsonl"));
  ASSERT_EQ(round.size(), lines.size());
  for (std::size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].find(used_.id) != std::string::npos) continue;
    EXPECT_EQ(round[i], lines[i]) << "record line " << i;
  }
}

TEST_F(IntegArchive, ImportingTheSameFileAgainChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(MakeSqliteExport());
  ASSERT_EQ(Import(File("keys.jsonl")).exit_code, 0);
  const RunResult again = Import(File("keys.jsonl"));
  ASSERT_EQ(again.exit_code, 0) << Describe(again);
  EXPECT_NE(again.out.find("3 records, 0 inserted, 3 already present"), std::string::npos)
      << again.out;
  EXPECT_EQ(ApiKeysRows(), "3");
}

TEST_F(IntegArchive, AFileExportedUnderAnotherPepperIsRefusedBeforeAnythingIsWritten) {
  ASSERT_NO_FATAL_FAILURE(MakeSqliteExport());
  const RunResult r =
      Import(File("keys.jsonl"), {}, "another-pepper-0123456789abcdefghijklmnopqrs");
  EXPECT_EQ(r.exit_code, 1) << Describe(r);
  EXPECT_NE(r.err.find("another pepper"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("would not verify"), std::string::npos) << r.err;
  EXPECT_EQ(ApiKeysRows(), "no table");
}

TEST_F(IntegArchive, DamagedFilesAreRefusedWithTheLineAndNothingIsWritten) {
  ASSERT_NO_FATAL_FAILURE(MakeSqliteExport());
  const std::vector<std::string> lines = Lines(File("keys.jsonl"));
  struct Case {
    std::string name;
    std::vector<std::string> lines;
    bool final_newline;
    std::string mention;
  };
  std::vector<std::string> bad_hash = lines;
  const std::size_t at = bad_hash[2].find("\"key_hash\":\"") + 12;
  bad_hash[2].replace(at, 2, "zz");
  std::vector<std::string> cut = lines;
  cut[3] = cut[3].substr(0, cut[3].size() / 2);
  const std::vector<Case> cases = {
      {"truncated mid-record", cut, false, "truncated"},
      {"a record missing", {lines[0], lines[1], lines[2]}, true, "announces 3 records"},
      {"a damaged hash", bad_hash, true, "line 3"},
      {"not an export", {"hello", "world"}, true, "line 1"},
      {"empty", {}, false, "empty"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Write(File("bad.jsonl"), c.lines, c.final_newline);
    const RunResult r = Import(File("bad.jsonl"));
    EXPECT_EQ(r.exit_code, 1) << Describe(r);
    EXPECT_NE(r.err.find(c.mention), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("nothing imported"), std::string::npos) << r.err;
  }
  EXPECT_EQ(ApiKeysRows(), "no table");
  const RunResult missing = Import(File("no-such-file.jsonl"));
  EXPECT_EQ(missing.exit_code, 1) << Describe(missing);
}

TEST_F(IntegArchive, AnIdStoredForAnotherKeyIsAConflictUnlessSkipped) {
  ASSERT_NO_FATAL_FAILURE(MakeSqliteExport());
  ASSERT_EQ(Import(File("keys.jsonl")).exit_code, 0);
  std::vector<std::string> lines = Lines(File("keys.jsonl"));
  const std::size_t at = lines[1].find("\"owner_id\":\"") + 12;
  lines[1].insert(at, "someone-else-");
  Write(File("conflict.jsonl"), lines);
  const RunResult refused = Import(File("conflict.jsonl"));
  EXPECT_EQ(refused.exit_code, 1) << Describe(refused);
  EXPECT_NE(refused.err.find("already stored for another key"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--skip-existing"), std::string::npos) << refused.err;
  const RunResult skipped = Import(File("conflict.jsonl"), {"--skip-existing"});
  EXPECT_EQ(skipped.exit_code, 0) << Describe(skipped);
  EXPECT_NE(skipped.out.find("0 inserted, 2 already present, 1 skipped"), std::string::npos)
      << skipped.out;
  EXPECT_EQ(ApiKeysRows(), "3");
}

}  // namespace
}  // namespace keycache::testing
